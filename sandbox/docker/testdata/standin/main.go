// Command standin stands in for the codspeed CLI in the orchestrator's tests
// until the real one exists: `standin exec --profile-folder DIR -- CMD...`
// runs CMD and writes DIR/results/<pid>.json naming it; `standin version`
// prints a line. It is test data, not product.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	args := os.Args[1:]
	if len(args) == 0 || args[0] == "version" {
		fmt.Println("codspeed standin")
		return
	}
	profile := ""
	var cmd []string
	for i := 1; i < len(args); i++ {
		if args[i] == "--profile-folder" && i+1 < len(args) {
			profile = args[i+1]
			i++
		} else if args[i] == "--" {
			cmd = args[i+1:]
			break
		}
	}
	code := 0
	if len(cmd) > 0 {
		c := exec.Command(cmd[0], cmd[1:]...)
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		if err := c.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else {
				fmt.Fprintln(os.Stderr, "standin:", err)
				os.Exit(127)
			}
		}
	}
	if profile != "" {
		dir := filepath.Join(profile, "results")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "standin:", err)
			os.Exit(1)
		}
		b, _ := json.Marshal(map[string]any{"mode": args[0], "command": cmd, "exit": code})
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.json", os.Getpid())), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "standin:", err)
			os.Exit(1)
		}
	}
	os.Exit(code)
}
