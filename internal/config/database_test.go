package config

import (
	"path/filepath"
	"testing"
)

func TestDatabaseDirs(t *testing.T) {
	for _, tt := range []struct {
		env          map[string]string
		data, export string
		url, addr    string
	}{
		{nil, "data", filepath.Join("data", "exports"), "", ""},
		{map[string]string{"DATA_DIR": "/var/lib/zyeute"}, "/var/lib/zyeute", "/var/lib/zyeute/exports", "", ""},
		{map[string]string{"DATA_DIR": "/d", "PRIVACY_EXPORT_DIR": "/secure/exports"}, "/d", "/secure/exports", "", ""},
		{map[string]string{"DATABASE_URL": "postgres://u:p@db:6543/z"}, "data", filepath.Join("data", "exports"), "postgres://u:p@db:6543/z", "db:6543"},
	} {
		c, err := Load(env(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		d := c.Database
		if d.DataDir != tt.data || d.ExportDir != tt.export || d.URL.Reveal() != tt.url || d.Addr != tt.addr {
			t.Errorf("%v: %+v", tt.env, d)
		}
	}
}
