package doctor

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzRESP feeds arbitrary bytes to the reply reader: it must return values
// or errors, never panic, and stay within its limits.
func FuzzRESP(f *testing.F) {
	for _, seed := range []string{
		"+OK\r\n", "-ERR x\r\n", ":12\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*2\r\n$1\r\na\r\n:1\r\n",
		"*-1\r\n", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "$99999999999\r\n", "\x15\x03\x03",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rc := &respConn{br: bufio.NewReader(bytes.NewReader(data))}
		for i := 0; i < 64; i++ {
			if _, err := rc.read(0); err != nil {
				return
			}
		}
	})
}
