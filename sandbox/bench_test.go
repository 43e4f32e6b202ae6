package sandbox

import (
	"os/exec"
	"testing"
)

// BenchmarkStart measures what a sandbox adds to starting a process: "spawn"
// starts and waits /bin/true (the difference to "plain" is the per-start
// overhead the walltime harness pays each round); "handoff" starts a command
// whose lookup failed, so Start returns without forking and only the
// sandbox's own work (lock, SysProcAttr, hand-off to the launcher thread and
// back) is timed.
func BenchmarkStart(b *testing.B) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Skip("no true(1) on this host")
	}
	type mk func(b *testing.B) Sandbox
	kinds := []struct {
		name string
		mk   mk
	}{
		{"plain", func(*testing.B) Sandbox { return None{} }},
		{"affinity", func(b *testing.B) Sandbox {
			s, _, err := New(NewSpec(Options{}), LocalOptions{AffinityOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"local", func(b *testing.B) Sandbox {
			requireRoot(b)
			s, err := NewLocal(NewSpec(Options{}), LocalOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, k := range kinds {
		b.Run(k.name+"/spawn", func(b *testing.B) {
			s := k.mk(b)
			defer s.Close()
			for b.Loop() {
				cmd := exec.Command(truePath)
				if err := s.Start(cmd); err != nil {
					b.Fatal(err)
				}
				if err := cmd.Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(k.name+"/handoff", func(b *testing.B) {
			s := k.mk(b)
			defer s.Close()
			for b.Loop() {
				cmd := exec.Command("codspeed-sandbox-no-such-program")
				if err := s.Start(cmd); err == nil {
					b.Fatal("started a missing program")
				}
			}
		})
	}
}

// BenchmarkNewClose is the one-time cost of a sandbox: creating the cgroup,
// moving the launcher thread in and out, removing the cgroup.
func BenchmarkNewClose(b *testing.B) {
	requireRoot(b)
	for b.Loop() {
		s, err := NewLocal(NewSpec(Options{}), LocalOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
