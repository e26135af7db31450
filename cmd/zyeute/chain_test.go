package main

import (
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/internal/jobs/chain/anviltest"
)

// With CHAIN_RPC_ETHEREUM set and no Redis, serve runs blockchain-sync
// inline against the node and stores the transfers in the embedded
// database; a resent job reads nothing new. polygon, without an endpoint,
// keeps the local plan.
func TestServeChainSyncEmbedded(t *testing.T) {
	t.Parallel()
	n := anviltest.Start(t)
	accts := n.Accounts()
	wallet := accts[1]
	n.Send(map[string]any{"from": accts[0], "to": wallet, "value": "0x" + big.NewInt(1e18).Text(16)})
	n.Mine(20)
	head := n.Head()
	s := startServe(t, map[string]string{"DATA_DIR": filepath.Join(t.TempDir(), "data"), "CHAIN_RPC_ETHEREUM": n.URL})
	body := fmt.Sprintf(`{"data":{"wallet":%q,"chain":"ethereum","from_block":0,"to_block":%d}}`, wallet, head)
	doc := enqueue(t, s, "blockchain-sync", body, 200)
	res, _ := doc["result"].(map[string]any)
	if doc["mode"] != "sync" || res["synced"] != true || res["syncer"] != "json-rpc" || res["transfers"] != float64(1) || res["inserted"] != float64(1) {
		t.Fatalf("first sync: %v", doc)
	}
	again := enqueue(t, s, "blockchain-sync", body, 200)
	if res, _ := again["result"].(map[string]any); res["inserted"] != float64(0) || res["resumed_from"] != float64(head+1) {
		t.Fatalf("resent job: %v", again)
	}
	plan := enqueue(t, s, "blockchain-sync", strings.Replace(body, "ethereum", "polygon", 1), 200)
	if res, _ := plan["result"].(map[string]any); res["synced"] != false || res["syncer"] != "local-plan" {
		t.Fatalf("polygon without endpoint: %v", plan)
	}
}
