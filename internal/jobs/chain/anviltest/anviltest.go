// Package anviltest runs anvil, a local Ethereum node, for tests: the
// binary the npm package @foundry-rs/anvil installs under tools/anvil
// (scripts/ensure-test-deps.sh, or cd tools/anvil && npm ci). A missing
// binary fails the test with that command; it never skips.
package anviltest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Install is the command that installs the test node.
const Install = "scripts/ensure-test-deps.sh (or: cd tools/anvil && npm ci --no-audit --no-fund)"

// Binary is the path of anvil under the repository's tools/anvil, found
// from the working directory up to go.mod.
func Binary(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatalf("go.mod not found above the working directory")
		}
		dir = up
	}
	p := filepath.Join(dir, "tools", "anvil", "node_modules", "@foundry-rs", "anvil-"+runtime.GOOS+"-"+runtime.GOARCH, "bin", "anvil")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("anvil (npm package @foundry-rs/anvil) is not installed at %s: %v\nrun: %s", p, err, Install)
	}
	return p
}

// Node is a running anvil and a JSON-RPC client of it.
type Node struct {
	t   testing.TB
	URL string
}

// Start starts anvil on a free loopback port (automine: one block per
// transaction) and waits until it answers; it is killed when the test ends.
func Start(t testing.TB) *Node {
	t.Helper()
	bin := Binary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--accounts", "5", "--silent")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting anvil: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	n := &Node{t: t, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	for i := 0; i < 200; i++ { // up to 20 s
		var s string
		if n.Try(&s, "eth_blockNumber") == nil {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("anvil did not answer on port %d: %s", port, out.String())
	return nil
}

// Try makes one JSON-RPC call.
func (n *Node) Try(out any, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	resp, err := http.Post(n.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return err
	}
	if r.Error != nil {
		return fmt.Errorf("%s: %d %s", method, r.Error.Code, r.Error.Message)
	}
	return json.Unmarshal(r.Result, out)
}

// Call is Try failing the test on an error.
func (n *Node) Call(out any, method string, params ...any) {
	n.t.Helper()
	if err := n.Try(out, method, params...); err != nil {
		n.t.Fatal(err)
	}
}

func hexNum(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

// Head is the latest block number.
func (n *Node) Head() uint64 {
	var s string
	n.Call(&s, "eth_blockNumber")
	v, _ := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	return v
}

// Mine mines empty blocks.
func (n *Node) Mine(blocks int) {
	var r any
	n.Call(&r, "anvil_mine", hexNum(uint64(blocks)))
}

// Accounts are the unlocked dev accounts, lower-case.
func (n *Node) Accounts() []string {
	var a []string
	n.Call(&a, "eth_accounts")
	for i := range a {
		a[i] = strings.ToLower(a[i])
	}
	return a
}

// Balance is addr's balance in wei at block.
func (n *Node) Balance(addr string, block uint64) *big.Int {
	var s string
	n.Call(&s, "eth_getBalance", addr, hexNum(block))
	v, _ := new(big.Int).SetString(strings.TrimPrefix(s, "0x"), 16)
	return v
}

// Receipt is the part of a transaction receipt the tests read.
type Receipt struct {
	Status            string `json:"status"`
	ContractAddress   string `json:"contractAddress"`
	GasUsed           string `json:"gasUsed"`
	EffectiveGasPrice string `json:"effectiveGasPrice"`
	From              string `json:"from"`
	Logs              []struct {
		Address  string   `json:"address"`
		Topics   []string `json:"topics"`
		Data     string   `json:"data"`
		LogIndex string   `json:"logIndex"`
		TxHash   string   `json:"transactionHash"`
	} `json:"logs"`
}

// Fee is the gas the transaction paid, in wei.
func (r *Receipt) Fee() *big.Int {
	g, _ := new(big.Int).SetString(strings.TrimPrefix(r.GasUsed, "0x"), 16)
	p, _ := new(big.Int).SetString(strings.TrimPrefix(r.EffectiveGasPrice, "0x"), 16)
	return g.Mul(g, p)
}

// Send sends a transaction from an unlocked dev account (automined) and
// returns its lower-case hash and its receipt; a failed one fails the test.
func (n *Node) Send(tx map[string]any) (string, *Receipt) {
	n.t.Helper()
	h, r := n.SendMined(tx)
	if r.Status != "0x1" {
		n.t.Fatalf("transaction %s failed: %+v", h, r)
	}
	return h, r
}

// SendMined is Send accepting a reverted transaction (status 0x0): give
// it a "gas" limit, or anvil refuses it at gas estimation.
func (n *Node) SendMined(tx map[string]any) (string, *Receipt) {
	n.t.Helper()
	var h string
	n.Call(&h, "eth_sendTransaction", tx)
	var r Receipt
	for i := 0; i < 100; i++ { // mined shortly after
		var p *Receipt
		n.Call(&p, "eth_getTransactionReceipt", h)
		if p != nil {
			r = *p
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Status == "" {
		n.t.Fatalf("transaction %s was not mined", h)
	}
	return strings.ToLower(h), &r
}

// RevertInitCode deploys a contract whose every call reverts:
//
//	init:    60 05  PUSH1 5 (runtime length)   80 DUP1
//	         60 0b  PUSH1 11 (runtime offset)  60 00 PUSH1 0
//	         39     CODECOPY                   60 00 PUSH1 0   f3 RETURN
//	runtime: 60 00  PUSH1 0   60 00  PUSH1 0   fd REVERT (empty reason)
const RevertInitCode = "0x" + "6005" + "80" + "600b" + "6000" + "39" + "6000" + "f3" + "6000" + "6000" + "fd"

// TokenInitCode deploys a minimal ERC-20-shaped contract written by hand
// (no compiler here): any call with calldata [to (32 bytes)][amount (32
// bytes)] emits Transfer(msg.sender, to, amount), the event an ERC-20
// transfer emits. It keeps no balances: a sync only reads the logs.
//
// Init code (11 bytes) copies the runtime code after it into memory and
// returns it:
//
//	60 31  PUSH1 0x31   runtime length (49)          [len]
//	80     DUP1                                      [len len]
//	60 0b  PUSH1 0x0b   runtime offset in this code  [len len 11]
//	60 00  PUSH1 0      memory destination           [len len 11 0]
//	39     CODECOPY     mem[0:len] = code[11:11+len] [len]
//	60 00  PUSH1 0                                   [len 0]
//	f3     RETURN       return mem[0:len] as the contract's code
//
// Runtime code (49 bytes):
//
//	60 20  PUSH1 0x20     calldata offset of amount
//	35     CALLDATALOAD   [amount]
//	60 00  PUSH1 0
//	52     MSTORE         mem[0:32] = amount (the log's data)
//	60 00  PUSH1 0
//	35     CALLDATALOAD   [to]                  topic2
//	33     CALLER         [to sender]           topic1
//	7f …   PUSH32 keccak256("Transfer(address,address,uint256)")  topic0
//	60 20  PUSH1 0x20     data size
//	60 00  PUSH1 0        data offset
//	a3     LOG3           log(mem[0:32], topic0, sender, to)
//	00     STOP
const TokenInitCode = "0x" +
	"6031" + "80" + "600b" + "6000" + "39" + "6000" + "f3" + // init
	"6020" + "35" + "6000" + "52" + "6000" + "35" + "33" + // amount to memory, topics 2 and 1
	"7f" + "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef" + // topic0
	"6020" + "6000" + "a3" + "00" // LOG3, STOP

// TransferData is the token's calldata: to, amount.
func TransferData(to string, amount *big.Int) string {
	return "0x" + strings.Repeat("0", 24) + strings.TrimPrefix(strings.ToLower(to), "0x") + fmt.Sprintf("%064x", amount)
}
