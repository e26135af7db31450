package chain

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

// anvilInstall is the command that installs the test node.
const anvilInstall = "scripts/ensure-test-deps.sh (or: cd tools/anvil && npm ci --no-audit --no-fund)"

// anvilBinary is the Linux/macOS binary the npm package @foundry-rs/anvil
// installs under tools/anvil/node_modules. Missing: the test fails (never
// skips) with the command to install it.
func anvilBinary(t *testing.T) string {
	t.Helper()
	arch := map[string]string{"amd64": "amd64", "arm64": "arm64"}[runtime.GOARCH]
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "tools", "anvil", "node_modules", "@foundry-rs",
		"anvil-"+runtime.GOOS+"-"+arch, "bin", "anvil"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("anvil (npm package @foundry-rs/anvil) is not installed at %s: %v\nrun: %s", p, err, anvilInstall)
	}
	return p
}

// node is a running anvil and a JSON-RPC client of it.
type node struct {
	t   *testing.T
	url string
}

// startAnvil starts anvil on a free loopback port (automine: one block per
// transaction) and waits until it answers; it is killed when the test ends.
func startAnvil(t *testing.T) *node {
	t.Helper()
	bin := anvilBinary(t)
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
	n := &node{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	for i := 0; i < 200; i++ { // up to 20 s
		var s string
		if n.try(&s, "eth_blockNumber") == nil {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("anvil did not answer on port %d: %s", port, out.String())
	return nil
}

func (n *node) try(out any, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	resp, err := http.Post(n.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return err
	}
	if r.Error != nil {
		return fmt.Errorf("%s: %d %s", method, r.Error.Code, r.Error.Message)
	}
	return json.Unmarshal(r.Result, out)
}

func (n *node) call(out any, method string, params ...any) {
	n.t.Helper()
	if err := n.try(out, method, params...); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) head() uint64 {
	var s string
	n.call(&s, "eth_blockNumber")
	v, _ := quantity(s)
	return v
}

func (n *node) mine(blocks int) { var r any; n.call(&r, "anvil_mine", hexNum(uint64(blocks))) }

func (n *node) balance(addr string, block uint64) *big.Int {
	var s string
	n.call(&s, "eth_getBalance", addr, hexNum(block))
	v, _ := new(big.Int).SetString(strings.TrimPrefix(s, "0x"), 16)
	return v
}

type receipt struct {
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

// send sends a transaction from an unlocked dev account (automined) and
// returns its hash and receipt.
func (n *node) send(tx map[string]any) (string, *receipt) {
	n.t.Helper()
	var h string
	n.call(&h, "eth_sendTransaction", tx)
	var r receipt
	for i := 0; i < 100 && r.Status == ""; i++ { // automined, mined shortly after
		var p *receipt
		n.call(&p, "eth_getTransactionReceipt", h)
		if p != nil {
			r = *p
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Status != "0x1" {
		n.t.Fatalf("transaction %s failed: %+v", h, r)
	}
	return strings.ToLower(h), &r
}

func (r *receipt) fee() *big.Int {
	g, _ := new(big.Int).SetString(strings.TrimPrefix(r.GasUsed, "0x"), 16)
	p, _ := new(big.Int).SetString(strings.TrimPrefix(r.EffectiveGasPrice, "0x"), 16)
	return g.Mul(g, p)
}

// tokenInitCode deploys a minimal ERC-20-shaped contract written by hand
// (no compiler here): any call with calldata [to (32 bytes)][amount (32
// bytes)] emits Transfer(msg.sender, to, amount), the event an ERC-20
// transfer emits. It keeps no balances: the sync only reads the logs.
//
// Init code (11 bytes) copies the runtime code after it into memory and
// returns it:
//
//	60 31  PUSH1 0x31   runtime length (49)         [len]
//	80     DUP1                                     [len len]
//	60 0b  PUSH1 0x0b   runtime offset in this code [len len 11]
//	60 00  PUSH1 0      memory destination          [len len 11 0]
//	39     CODECOPY     mem[0:len] = code[11:11+len] [len]
//	60 00  PUSH1 0                                  [len 0]
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
const tokenInitCode = "0x" +
	"6031" + "80" + "600b" + "6000" + "39" + "6000" + "f3" + // init
	"6020" + "35" + "6000" + "52" + "6000" + "35" + "33" + // amount to memory, topics 2 and 1
	"7f" + "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef" + // topic0
	"6020" + "6000" + "a3" + "00" // LOG3, STOP

// transferData is the token's calldata: to, amount.
func transferData(to string, amount *big.Int) string {
	return "0x" + strings.TrimPrefix(topicAddr(to), "0x") + fmt.Sprintf("%064x", amount)
}

func TestTokenInitCodeLength(t *testing.T) {
	code := strings.TrimPrefix(tokenInitCode, "0x")
	if len(code)/2 != 11+0x31 {
		t.Fatalf("init code is %d bytes, want 11 + 49", len(code)/2)
	}
}
