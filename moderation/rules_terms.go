package moderation

import "strings"

// The rule set of the local provider. Everything here matches text after
// foldForMatching: lower case, no accents, apostrophes and hyphens turned into
// spaces ("mange d'la marde" → " mange d la marde "), one space between words.
//
// Bump RulesPolicyVersion whenever a list or a weight changes: it is part of
// the cache key, so old verdicts stop being served without a flush.

// RulesPolicyVersion identifies this rule set in cache keys.
const RulesPolicyVersion = "rules-3"

// alt builds a non-capturing alternation.
func alt(words ...string) string { return "(?:" + strings.Join(words, "|") + ")" }

// words splits a space-separated list; multi-word entries use '_' for spaces.
func words(list string) []string {
	f := strings.Fields(list)
	for i, w := range f {
		f[i] = strings.ReplaceAll(w, "_", " ")
	}
	return f
}

var (
	// Sacres and swear words: profanity, never a violation on their own.
	sacres = words(`tabarnak tabarnac tabarnaque tabernak tabernacle_de tabarouette tabarnouche tabarslak
		ostie osti hostie esti estie ostifie calice calisse caliss colisse caliboire crisse criss crisseman crissement
		ciboire cibole sacrament sacrament saint_sacrament viarge torrieux torieux maudit maudite mautadit
		ostiement estiement calissement
		merde marde putain bordel fuck fucking fck fuk fucked motherfucking shit shitty bullshit damn goddamn wtf crap`)

	// Insults: a violation when aimed at someone (after a second-person or
	// "ostie de" marker), weak on their own.
	insults = words(`cave caves epais epaisse niaiseux niaiseuse niaiseuses nono nounoune tarla tata twit mongol mongole
		debile debiles idiot idiote idiots imbecile imbeciles cretin cretine con conne connard connasse connards
		salaud salaude salope salopes pute putes chienne plotte trou_de_cul trou_d_cul gnochon sans_dessein
		abruti abrutie attarde attardee minable dechet ordure loser looser rate_de_service cassos
		moron morons stupid dumb dumbass dumbfuck idiot retard retarded bitch whore slut cunt asshole
		dickhead dick prick jerk scum loser pathetic clown bouffon bouffonne tapon innocent_de_village
		pas_bon gros_tas grosse_torche torche vidange grosse_vache gros_porc gros_cochon sale_porc
		piece_of_shit waste_of_space useless`)

	// Insults that are abusive even without a marker.
	strongInsults = words(`connard connasse salope fils_de_pute fils_de_chienne enfant_de_chienne encule enculee
		motherfucker cunt asshole trou_de_cul trou_d_cul fuck_you fuck_u fuck_off fuck_toi fuck_vous
		va_chier ta_yeule ta_gueule ferme_ta_gueule ferme_ta_yeule mange_toi_un_char_de_marde
		piece_of_shit son_of_a_bitch stfu`)

	// Second-person and "aimed at" markers before an insult.
	insultMarkers = words(`t_es tu_es t_etais tu_etais tes t_as_l_air_d t_as_l_air_d_un t_as_l_air_d_une vous_etes
		t_es_rien_qu t_es_juste espece_de espece_d sale gros grosse maudit maudite mautadit
		ostie_de ostie_d osti_de osti_d esti_de esti_d hostie_de criss_de crisse_de calice_de calisse_de
		caliss_de tabarnak_de tabarnac_de ciboire_de sacrament_de mon ma mes toi you_are you_re youre ur u_r
		you your such_a what_a ya gang_de bande_de`)

	// Words allowed between a marker and the insult.
	insultFillers = words(`un une des un_gros une_grosse ben bin vraiment tellement juste rien_qu_un rien_qu_une
		a an so such_a a_fucking fucking total complete real ostie_de ostie_d criss_de esti_de maudit maudite
		gros grosse petit petite sale stupid dumb big fat little fucking_stupid damn tabarnak_de calice_de
		calisse_de crisse_de`)

	// Québec and French "mange d'la marde" family.
	eatShit = `\bmange` + `\w*(?: \w+){0,4} ` + alt("marde", "merde", "shit", "chnoute", "chnoutte") + `\b`

	goAway = `\b` + alt("va", "allez", "vas", "aller") + ` (?:donc |te |don )?` +
		alt("chier", "te faire foutre", "vous faire foutre", "faire foutre", "te faire enculer", "te faire fourrer",
			"chez le diable", "au diable", "donc chier") + `\b`

	// Threat openers ("je vais", "j'vais", "m'as" (Québec), "on va") and
	// verbs of harm aimed at "te"/"vous".
	threatOpeners = alt("je vais", "j vais", "jvais", "je vas", "j vas", "je va", "m as", "mas", "m en vais",
		"je m en vais", "on va", "nous allons", "je veux", "j veux", "je peux", "je pourrais", "jvas",
		"ma", "je te jure que je vais", "je devrais")
	harmVerbsFR = alt("tuer", "buter", "descendre", "egorger", "poignarder", "tirer dessus", "tirer une balle",
		"crisser une volee", "sacrer une volee", "donner une volee", "casser la gueule", "casser la yeule",
		"peter la gueule", "peter la face", "peter la yeule", "arracher la tete", "defoncer", "defoncer la face",
		"planter", "etrangler", "bruler", "massacrer", "faire la peau", "crever", "violer", "battre",
		"frapper", "casser les jambes", "casser les dents", "faire mal", "faire du mal", "achever", "pendre")
	threatFR = `\b` + threatOpeners + ` (?:te|t|vous|v)(?: \w+)? ` + harmVerbsFR + `\b`
	// "je vais tuer ta mère"
	threatFR2 = `\b` + threatOpeners + ` ` + alt("tuer", "buter", "violer", "bruler", "massacrer") + ` ` +
		alt("ta", "ton", "tes", "toute ta", "votre", "vos") + `\b`
	stalkFR  = `\b(?:je sais|j sais|jsais|on sait) ou (?:tu|t) (?:habites|restes|vis|demeures|travailles)\b`
	deadFR   = `\b(?:t es|tu es|t es full|vous etes) (?:mort|morte|morts|fini|finie|dead)\b`
	findFR   = `\b` + threatOpeners + ` (?:te|vous) (?:retrouver|trouver|pogner|attendre|attraper)\b`
	payFR    = `\b(?:tu vas|tu va|vous allez|t vas) (?:payer|mourir|crever|le regretter|y passer)\b`
	threatEN = `\b` + alt("i ll", "ill", "i will", "i m going to", "im going to", "i m gonna", "im gonna", "gonna",
		"i am going to", "i am gonna", "i want to", "i wanna", "we will", "we re going to", "we ll", "i could",
		"imma", "ima") + ` ` + alt("kill", "murder", "hurt", "shoot", "stab", "strangle", "rape", "beat", "beat up",
		"end", "destroy", "slit", "burn", "choke", "punch") + ` ` + alt("you", "u", "ya", "your", "y all") + `\b`
	stalkEN = `\b(?:i know|we know) where (?:you|u) (?:live|work|sleep|are)\b`
	deadEN  = `\b(?:you re|youre|you are|ur|u r) (?:dead|so dead|finished|next)\b`
	findEN  = `\b(?:i ll|i will|i m going to|im going to|gonna|i m gonna) (?:find|get|catch|come for) (?:you|u)\b`

	// Mass violence.
	massViolence = `\b(?:` + alt("je vais", "j vais", "on va", "m as", "i will", "i ll", "i m going to", "im going to",
		"gonna", "i want to") + ` (?:` + alt("tous les tuer", "tout le monde tuer", "tuer tout le monde",
		"kill them all", "kill everyone", "kill everybody", "kill all of you", "vous tuer tous", "tous vous tuer",
		"shoot up", "bomb", "faire sauter", "tirer sur tout le monde") + `))\b`
	violenceWords = alt("tuer", "tue", "meurtre", "kill", "killed", "murder", "bombe", "bomb", "attentat",
		"fusillade", "shooting", "massacre", "egorger", "decapiter", "behead", "sang", "blood", "gore")

	// Self-harm: first person.
	selfHarm = alt("je veux mourir", "j veux mourir", "jveux mourir", "je voudrais mourir", "envie de mourir",
		"je veux me tuer", "je vais me tuer", "j vais me tuer", "m as me tuer", "me suicider", "je vais me pendre",
		"me pendre", "me jeter en bas", "me jeter du pont", "me jeter sous", "en finir avec la vie",
		"en finir avec ma vie", "mettre fin a mes jours", "mettre fin a ma vie", "je me scarifie", "me scarifier",
		"me couper les veines", "me taillader", "je veux pu vivre", "je veux plus vivre", "je ne veux plus vivre",
		"i want to die", "i wanna die", "kill myself", "end my life", "end it all", "suicide myself",
		"cut myself", "cutting myself", "hang myself", "i don t want to live", "i dont want to live",
		"want to be dead", "better off dead")
	// Encouraging self-harm: harassment and self-harm.
	selfHarmEncourage = alt("kill yourself", "kill urself", "kill your self", "kys", "go die", "go kill yourself",
		"tue toi", "tues toi", "va te tuer", "va te pendre", "suicide toi", "suicides toi", "va mourir",
		"va crever", "crever donc", "creve donc", "jette toi en bas", "jette toi d un pont", "drink bleach",
		"hang yourself", "unalive yourself", "personne t aimerait si tu mourais", "the world is better without you",
		"le monde serait mieux sans toi")
	suicideWord = alt("suicide", "suicidaire", "suicidal", "automutilation", "self harm", "scarification")

	// Hate: slurs and group-targeted patterns.
	slurs = alt("nigger", "niggers", "nigga", "niggas", "faggot", "faggots", "fag", "fags", "kike", "kikes", "spic",
		"spics", "chink", "chinks", "wetback", "wetbacks", "tranny", "trannies", "raghead", "ragheads", "paki",
		"pakis", "negre", "negres", "negresse", "bougnoule", "bougnoules", "youpin", "youpins", "bicot", "bicots",
		"chinetoque", "chinetoques", "tapette", "tapettes", "fif", "fifs", "fifon", "pede", "pedes", "pd",
		"gouine", "gouines", "sale race", "sous race", "sous homme", "sous hommes")
	groups = alt("arabe", "arabes", "juif", "juifs", "juive", "juives", "noir", "noirs", "noire", "noires",
		"negre", "negres", "immigrant", "immigrants", "immigre", "immigres", "immigrante", "musulman", "musulmans",
		"musulmane", "musulmanes", "chinois", "chinoise", "asiatique", "asiatiques", "autochtone", "autochtones",
		"indien", "indiens", "sauvage", "sauvages", "gai", "gais", "gay", "gays", "lesbienne", "lesbiennes",
		"trans", "haitien", "haitiens", "mexicain", "mexicains", "anglo", "anglos", "bloke", "blokes", "homo",
		"homos", "tapette", "tapettes", "fif", "fifs", "refugie", "refugies", "migrant", "migrants",
		"jews", "jew", "blacks", "muslims", "muslim", "arabs", "arab", "immigrants", "gays", "trans people",
		"mexicans", "asians", "chinese", "indians", "natives", "refugees", "migrants", "women", "femmes")
	groupInsult = `\b` + alt("sale", "sales", "maudit", "maudits", "maudite", "maudites", "ostie de", "osti de",
		"criss de", "crisse de", "calice de", "tabarnak de", "gang de", "bande de", "dirty", "fucking", "filthy",
		"stupid") + ` ` + groups + `\b`
	groupDeath = `\b(?:` + alt("tous les", "toutes les", "les", "all", "all the", "the") + ` )?` + groups + ` ` +
		alt("devraient", "doivent", "vont", "meritent de", "should", "must", "deserve to", "need to", "have to",
			"are going to", "sont des", "are all", "are", "sont tous des", "sont toutes des") + ` ` +
		alt("mourir", "crever", "etre tues", "etre tuees", "disparaitre", "etre deportes", "etre gazes", "bruler",
			"die", "be killed", "be deported", "be gassed", "burn", "be exterminated", "animaux", "animals",
			"vermine", "vermin", "rats", "parasites", "cancer", "dechets", "trash", "cockroaches", "coquerelles",
			"sous humains", "subhuman") + `\b`
	groupDeath2 = `\b(?:mort aux|death to|gas the|exterminer les|exterminate the|kill all|kill the|tuer les|tuer tous les) ` + groups + `\b`
	goHome      = alt("retourne dans ton pays", "retournez dans votre pays", "retourne chez vous", "retourne chez toi",
		"go back to your country", "go back where you came from", "go back to where you came from",
		"heil hitler", "sieg heil", "white power", "1488", "14 88", "race superieure", "white genocide",
		"grand remplacement", "great replacement")

	// Sexual content.
	sexualStrong = alt("porn", "porno", "pornhub", "xvideos", "xxx", "send nudes", "nudes", "envoie moi des nudes",
		"envoie tes nudes", "envoie moi tes nudes", "dick pic", "dick pics", "suck my dick", "suck my cock",
		"suce moi", "suce ma", "suces tu", "faire une pipe", "fais moi une pipe", "blowjob", "handjob", "blow job",
		"fuck me", "je veux te baiser", "je vais te baiser", "te baiser", "te fourrer", "je veux te fourrer",
		"ma graine", "ma queue", "ta plotte", "ta chatte", "ma bite", "ta bite", "bite", "sodomie", "sodomiser",
		"orgasme", "orgasm", "cum", "cumshot", "ejaculer", "masturber", "masturbate", "jerk off", "pussy",
		"cock", "tits", "titties", "horny", "onlyfans", "cam show", "camshow", "escort", "escorte", "baise moi",
		"viens me baiser", "sexe oral", "oral sex", "anal", "gangbang", "milf", "nsfw", "nu e", "toute nue",
		"tout nu", "naked")
	sexualMild = alt("sexy", "seins", "boobs", "cul", "sexe", "sex", "cochonne", "hot", "chaude", "bandant",
		"bandante", "fesses", "booty", "thong", "string", "lingerie")
	minors = alt("enfant", "enfants", "mineur", "mineure", "mineurs", "mineures", "ado", "ados", "adolescent",
		"adolescente", "fillette", "fillettes", "petite fille", "petit gars", "petit garcon", "kid", "kids", "child",
		"children", "minor", "minors", "underage", "teen", "teens", "loli", "lolita", "preteen", "ecoliere",
		"schoolgirl", "bebe", "baby", `(?:[4-9]|1[0-7]) ans`, `(?:[4-9]|1[0-7]) yo`, `(?:[4-9]|1[0-7]) years old`,
		`(?:[4-9]|1[0-7])yo`, "primaire", "secondaire 1", "secondaire 2")

	// Spam signals.
	spamCall = alt("clique ici", "cliquez ici", "click here", "click the link", "click on the link",
		"lien dans ma bio", "lien dans la bio", "link in bio", "link in my bio", "check my profile",
		"visite mon profil", "va voir mon profil", "follow me", "follow for follow", "f4f", "suivez moi",
		"abonnez vous", "abonne toi", "sub to my", "subscribe to my", "dm me", "dm moi", "ecris moi en prive",
		"message me", "text me on", "contact me on", "whatsapp", "telegram", "signal me")
	spamMoney = alt("argent facile", "easy money", "free money", "make money", "faire de l argent",
		"gagne de l argent", "gagnez de l argent", "work from home", "travail a domicile", "investis", "invest now",
		"crypto", "bitcoin", "btc", "ethereum", "forex", "double ton argent", "double your money", "gift card",
		"carte cadeau", "promo code", "code promo", "100 gratuit", "free followers", "followers gratuits",
		"free vbucks", "gratuit", "winner", "gagnant", "you won", "vous avez gagne", "tu as gagne",
		"limited offer", "offre limitee", "act now", "achetez maintenant", "buy now", "cheap", "pas cher",
		"casino", "betting", "paris sportifs", "loan", "pret rapide", "sugar daddy")
)
