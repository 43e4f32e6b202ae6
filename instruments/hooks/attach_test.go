package hooks_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"github.com/codspeed-go/codspeed-go/instruments/hooks/client"
)

func TestAttachRecordsAndWrites(t *testing.T) {
	dir := t.TempDir()
	stop, env, err := hooks.Attach(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != 1 || env[0] != hooks.DirEnv+"="+dir {
		t.Fatalf("env %v", env)
	}
	c, err := client.ConnectWith(client.Options{Dir: dir, IgnoreValgrind: true})
	if err != nil || !c.Active() {
		stop()
		t.Fatalf("client: %v", err)
	}
	c.SetIntegration("attach-test", "1.0")
	c.StartBenchmark()
	c.StopBenchmark()
	c.CurrentBenchmark("pkg::bench")
	c.Close()
	s := stop()
	if s.Integration == nil || s.Integration.Name != "attach-test" || len(s.Benchmarks) != 1 ||
		s.Benchmarks[0].URI != "pkg::bench" || len(s.Benchmarks[0].Intervals) != 1 {
		t.Fatalf("session: %+v", s)
	}
	path := filepath.Join(dir, "out", "hooks-session.json")
	if err := hooks.WriteSession(path, s); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &back); err != nil || back["integration"].(map[string]any)["Name"] != "attach-test" {
		t.Fatalf("written: %s (%v)", data, err)
	}
	// The FIFOs are gone once stopped, so a later run can take the lock.
	if _, err := os.Stat(filepath.Join(dir, hooks.CtlFIFOName)); !os.IsNotExist(err) {
		t.Fatalf("ctl FIFO left behind: %v", err)
	}
}
