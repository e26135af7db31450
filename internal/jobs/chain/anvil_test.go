package chain

import (
	"math/big"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/internal/jobs/chain/anviltest"
)

// The hand-written token's code has the lengths its init code assumes, and
// its calldata is the wallet's topic followed by the amount word.
func TestTokenCode(t *testing.T) {
	code := strings.TrimPrefix(anviltest.TokenInitCode, "0x")
	if len(code)/2 != 11+0x31 {
		t.Fatalf("init code is %d bytes, want 11 + 49", len(code)/2)
	}
	to := "0x00000000000000000000000000000000000000ab"
	if d := anviltest.TransferData(to, big.NewInt(1)); d != topicAddr(to)+strings.Repeat("0", 63)+"1" {
		t.Fatalf("calldata %s", d)
	}
}
