package memory

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"

	"github.com/codspeed-go/codspeed-go/instruments"
)

// initPIDNamespace is the inode of the initial PID namespace
// (PROC_PID_INIT_INO in the kernel).
const initPIDNamespace = 0xEFFFFFFC

const grantHint = "run as root, or grant CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN on kernels before 5.8); " +
	"in Docker: --cap-add BPF --cap-add PERFMON (engines older than 20.10.x that reject those names: " +
	"--cap-add SYS_ADMIN), plus a seccomp profile allowing bpf and perf_event_open (`docker run --rm IMAGE seccomp-profile > seccomp.json`, then --security-opt seccomp=$PWD/seccomp.json; never seccomp=unconfined)"

// check probes, in order, what a Session needs: kernel BTF (for the CO-RE
// relocations of the fork tracepoint), the uprobe PMU (uprobes without
// tracefs), the permission to load a tracing program, and the permission to
// attach it as a uprobe.
func check() error {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return fmt.Errorf("memory mode needs kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF=y): %w", instruments.ErrNotSupported)
	}
	if _, err := os.Stat("/sys/bus/event_source/devices/uprobe/type"); err != nil {
		return fmt.Errorf("memory mode needs uprobes (the uprobe perf PMU, CONFIG_UPROBE_EVENTS=y): %w", instruments.ErrNotSupported)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("memory mode: raise RLIMIT_MEMLOCK (%v); %s: %w", err, grantHint, instruments.ErrNotSupported)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.Kprobe,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		return explainBPFError("load a test eBPF program", err)
	}
	defer prog.Close()
	// Loading is not attaching: a uprobe is a perf event (perf_event_open,
	// CAP_PERFMON, and a seccomp profile that allows it). Attached to this
	// process only, at the runner's own entry point, so that no other
	// process on the host (one under valgrind, say) meets the breakpoint.
	if err := attachTestUprobe(prog); err != nil {
		return explainBPFError("attach a test uprobe", err)
	}
	return nil
}

// attachTestUprobe attaches prog as a uprobe on the running executable's
// entry point, for this process only, and detaches it.
func attachTestUprobe(prog *ebpf.Program) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	off, err := entryFileOffset(exe)
	if err != nil {
		return err
	}
	ex, err := link.OpenExecutable(exe)
	if err != nil {
		return err
	}
	l, err := ex.Uprobe("codspeed_check", prog, &link.UprobeOptions{Address: off, PID: os.Getpid()})
	if err != nil {
		return err
	}
	return l.Close()
}

// entryFileOffset returns the file offset of an ELF executable's entry
// point (what a uprobe is placed by).
func entryFileOffset(path string) (uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && f.Entry >= p.Vaddr && f.Entry < p.Vaddr+p.Filesz {
			return f.Entry - p.Vaddr + p.Off, nil
		}
	}
	return 0, fmt.Errorf("%s: entry point %#x is in no executable segment", path, f.Entry)
}

// explainBPFError turns a permission failure into an error that says what
// to grant, wrapping instruments.ErrNotSupported.
func explainBPFError(what string, err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("memory mode: %s: permission denied: missing CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN; %s: %w (%v)",
			what, grantHint, instruments.ErrNotSupported, err)
	}
	if errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("memory mode: %s: the kernel lacks a needed eBPF feature: %w (%v)", what, instruments.ErrNotSupported, err)
	}
	return fmt.Errorf("memory mode: %s: %w", what, err)
}
