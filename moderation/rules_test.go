package moderation

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestFoldForMatching(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"Mange d’la MARDE!!!":    " mange d la marde ",
		"Câlisse":                " calisse ",
		"T'ES UN OSTIE DE CAVE":  " t es un ostie de cave ",
		"tabarnaaaaak":           " tabarnak ",
		"c0nnard":                " connard ",
		"f*ck you":               " fck you ",
		"  Œuvre   à   l'école ": " oeuvre a l ecole ",
		"14yo 1488":              " 14yo 1488 ",
		"":                       " ",
	}
	for in, want := range cases {
		if got := foldForMatching(in); got != want {
			t.Errorf("foldForMatching(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRulesModerator(t *testing.T) {
	t.Parallel()
	m, err := NewRulesModerator(nil)
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		text    string
		flagged bool
		cat     string // a category that must be true when flagged
	}
	cases := []tc{
		// Québec French: sacres alone are not violations.
		{"tabarnak c'est beau", false, ""},
		{"TABARNAK C'EST BEAU!!!", false, ""},
		{"Ostie que j'ai faim", false, ""},
		{"c'est ben crissement bon ce poutine-là", false, ""},
		{"câlice de belle journée", false, ""},
		{"ostie de beau char", false, ""},
		{"Ciboire, tabarnak, câlisse, ostie, crisse de sacrament!", false, ""},
		{"j'ai pas de temps pour ça, maudit lundi", false, ""},
		// Québec French: aimed insults and threats.
		{"mange d'la marde", true, CategoryHarassment},
		{"Mange d’la MARDE", true, CategoryHarassment},
		{"mange donc un char de marde", true, CategoryHarassment},
		{"t'es un ostie de cave", true, CategoryHarassment},
		{"T'ES UN OSTIE DE CAVE", true, CategoryHarassment},
		{"ostie de cave", true, CategoryHarassment},
		{"espèce de niaiseux", true, CategoryHarassment},
		{"t'es tellement épaisse", true, CategoryHarassment},
		{"ta yeule", true, CategoryHarassment},
		{"va chier", true, CategoryHarassment},
		{"je vais te tuer", true, CategoryHarassmentThreatening},
		{"JE VAIS TE TUER", true, CategoryHarassmentThreatening},
		{"j'vais te tuer mon ostie", true, CategoryHarassmentThreatening},
		{"m'as te crisser une volée", true, CategoryHarassmentThreatening},
		{"je sais où tu restes", true, CategoryHarassmentThreatening},
		{"tue-toi", true, CategorySelfHarm},
		// French.
		{"Tu es un connard", true, CategoryHarassment},
		{"sale pute", true, CategoryHarassment},
		{"je vais te casser la gueule", true, CategoryHarassmentThreatening},
		{"je veux mourir", true, CategorySelfHarm},
		{"je vais me suicider ce soir", true, CategorySelfHarm},
		{"retourne dans ton pays", true, CategoryHate},
		{"sales immigrés", true, CategoryHate},
		{"envoie-moi des nudes", true, CategorySexual},
		{"J'adore la poutine et le hockey", false, ""},
		{"Bonne fête à ma mère, je t'aime", false, ""},
		{"Le cours de français était long", false, ""},
		{"il a tué le match hier soir", false, ""},
		{"t'es pas cave, t'es brillant", false, ""},
		{"je ne mange pas de la marde", false, ""},
		{"t'es mort de rire", false, ""},
		{"la prévention du suicide est importante", false, ""},
		// English.
		{"you are an idiot", true, CategoryHarassment},
		{"YOU'RE A FUCKING LOSER", true, CategoryHarassment},
		{"I'm going to kill you", true, CategoryHarassmentThreatening},
		{"i will find you", true, CategoryHarassmentThreatening},
		{"kill yourself", true, CategorySelfHarm},
		{"I want to die", true, CategorySelfHarm},
		{"send nudes", true, CategorySexual},
		{"go back to your country", true, CategoryHate},
		{"all immigrants should die", true, CategoryHate},
		{"Holy shit this is amazing", false, ""},
		{"fuck yeah, what a goal!", false, ""},
		{"this song is killer", false, ""},
		{"you are not stupid", false, ""},
		{"Great video, thanks for sharing", false, ""},
		// Spam.
		{"CLICK HERE free money http://a.xyz http://b.xyz http://c.xyz", true, CategorySpam},
		{"Argent facile!!! Écris-moi en privé sur WhatsApp", true, CategorySpam},
		{"go go go go go go go go", true, CategorySpam},
		// Minors.
		{"send nudes, I'm 14 years old", true, CategorySexualMinors},
	}
	for _, c := range cases {
		v, err := m.Moderate(context.Background(), Content{Text: c.text})
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		if v.Flagged != c.flagged {
			t.Errorf("%q: flagged = %v, want %v (scores %v)", c.text, v.Flagged, c.flagged, nonZero(v.Scores))
			continue
		}
		if c.flagged && !v.Categories[c.cat] {
			t.Errorf("%q: category %q not set (scores %v)", c.text, c.cat, nonZero(v.Scores))
		}
		if v.Provider != "rules" || v.Model != RulesModelName || len(v.Categories) != len(rulesCategories) {
			t.Errorf("%q: bad verdict shape %+v", c.text, v)
		}
		if v.Categories[CategoryProfanity] {
			t.Errorf("%q: profanity must never be a violation on its own", c.text)
		}
	}
}

func TestRulesSwearingScoresLowInsultsHigh(t *testing.T) {
	t.Parallel()
	m, _ := NewRulesModerator(nil)
	swear, _ := m.Moderate(context.Background(), Content{Text: "tabarnak c'est beau"})
	insult, _ := m.Moderate(context.Background(), Content{Text: "t'es un ostie de cave"})
	if swear.Scores[CategoryProfanity] <= 0 || swear.Scores[CategoryProfanity] >= 0.5 {
		t.Errorf("profanity score for swearing = %v, want in (0, 0.5)", swear.Scores[CategoryProfanity])
	}
	if swear.Scores[CategoryHarassment] >= 0.5 || insult.Scores[CategoryHarassment] < 0.8 {
		t.Errorf("harassment: swearing %v, aimed insult %v", swear.Scores[CategoryHarassment], insult.Scores[CategoryHarassment])
	}
}

func TestRulesImagesUnsupported(t *testing.T) {
	t.Parallel()
	m, _ := NewRulesModerator(nil)
	for _, c := range []Content{{ImageData: []byte("\x89PNG....")}, {ImageURL: "https://cdn.example/a.png"}} {
		v, err := m.Moderate(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if v.Flagged || !v.Unsupported || !strings.Contains(v.Note, "cannot judge images") {
			t.Errorf("image verdict = %+v", v)
		}
	}
}

func TestRulesBadContent(t *testing.T) {
	t.Parallel()
	m, _ := NewRulesModerator(nil)
	cases := []struct {
		c    Content
		want error
	}{
		{Content{}, ErrEmptyContent},
		{Content{Text: "   "}, ErrEmptyContent},
		{Content{Text: "a", ImageURL: "https://x/y"}, ErrAmbiguousContent},
		{Content{ImageURL: "ftp://x/y"}, ErrInvalidImageURL},
		{Content{Text: strings.Repeat("a", MaxTextBytes+1)}, ErrContentTooLarge},
	}
	for _, c := range cases {
		if _, err := m.Moderate(context.Background(), c.c); !errors.Is(err, c.want) {
			t.Errorf("%v: err = %v, want %v", c.c.Kind(), err, c.want)
		}
	}
	if _, err := NewRulesModerator(&RulesConfig{FlagThreshold: 0.3}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("threshold below the profanity cap accepted: %v", err)
	}
}

func nonZero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
