package moderation_test

import (
	"context"
	"fmt"

	"github.com/zyeute/zyeute-redis/moderation"
)

// A cache in front of the local rules provider. Here Redis is not configured
// (nil client), so every call goes to the provider and counts as a bypass;
// pass a go-redis client (redis.UniversalClient) to cache verdicts under
// zyeute:moderation:v1:<sha256> for 24 hours.
func ExampleCache() {
	rules, err := moderation.NewRulesModerator(nil)
	if err != nil {
		panic(err)
	}
	cache, err := moderation.NewCache(nil, rules, &moderation.CacheConfig{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, text := range []string{"Tabarnak, c'est beau!", "T'es un ostie de cave", "je vais te tuer"} {
		res, err := cache.Moderate(ctx, moderation.Content{Text: text})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-24q flagged=%-5v harassment=%v cached=%v\n",
			text, res.Flagged, res.Categories[moderation.CategoryHarassment], res.Cached)
	}
	s := cache.LocalStats()
	fmt.Println("bypasses:", s.Bypasses, "ai status:", cache.AIStatus().Status)
	// Output:
	// "Tabarnak, c'est beau!"  flagged=false harassment=false cached=false
	// "T'es un ostie de cave"  flagged=true  harassment=true cached=false
	// "je vais te tuer"        flagged=true  harassment=true cached=false
	// bypasses: 3 ai status: ok
}
