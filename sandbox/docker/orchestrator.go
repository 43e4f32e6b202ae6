// Package docker runs benchmark targets in containers through the Docker
// Engine API: it builds or pulls the benchmark image, then gives every target
// its own container with the static codspeed runner binary mounted in, the
// profile folder bind-mounted at a fixed path, its CPUs pinned, no network
// unless asked, and only the capabilities its mode needs. Inside, the runner
// measures the target with the local sandbox, so there is one way to measure,
// not two.
//
// The container settings are derived from an OCI runtime-spec (specs.Spec),
// which the caller stores with the results together with the HostConfig the
// engine reported, so a run says exactly how it was isolated.
//
// Nothing here runs the docker CLI: every call goes through
// github.com/moby/moby/client, which negotiates the API version with the
// engine in front of it.
package docker

//go:generate go run ./internal/genseccomp seccomp.json

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/moby/moby/client"
)

// ErrEngineUnavailable is wrapped when no Docker engine answers at the address
// taken from the environment (DOCKER_HOST, or the local socket).
var ErrEngineUnavailable = errors.New("no Docker engine answers: start dockerd (scripts/docker-engine.sh does it) or set DOCKER_HOST")

// Options configure an Orchestrator.
type Options struct {
	// Log receives the decisions the orchestrator takes on the caller's
	// behalf: which capabilities a mode gets on this engine and why, which
	// image is built or pulled. Nil discards them.
	Log *slog.Logger
	// ClientOptions are applied after client.FromEnv; tests use them to talk
	// to a particular engine.
	ClientOptions []client.Opt
}

// Engine describes the Docker engine the orchestrator talks to.
type Engine struct {
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	// KnowsPerfmonCaps is true when the engine accepts CAP_PERFMON and
	// CAP_BPF by name (Docker Engine 23.0, API 1.42, and later).
	KnowsPerfmonCaps bool `json:"knows_perfmon_caps"`
}

// Orchestrator builds images and runs targets in containers. It is safe for
// concurrent use; the caller owns it and must Close it.
type Orchestrator struct {
	cli    *client.Client
	log    *slog.Logger
	engine Engine
}

// NewOrchestrator connects to the engine named by the environment
// (DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY),
// negotiates the API version and records what the engine is. An engine that
// does not answer gives an error wrapping ErrEngineUnavailable.
func NewOrchestrator(ctx context.Context, o Options) (*Orchestrator, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts := append([]client.Opt{client.FromEnv}, o.ClientOptions...)
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w (%s): %v", ErrEngineUnavailable, cli.DaemonHost(), err)
	}
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker engine version at %s: %w", cli.DaemonHost(), err)
	}
	eng := Engine{
		Version:          v.Version,
		APIVersion:       v.APIVersion,
		OS:               v.Os,
		Arch:             v.Arch,
		KnowsPerfmonCaps: knowsPerfmonCaps(v.APIVersion),
	}
	log.Info("docker engine", "host", cli.DaemonHost(), "version", eng.Version, "api", eng.APIVersion,
		"client_api", cli.ClientVersion(), "perfmon_caps", eng.KnowsPerfmonCaps)
	return &Orchestrator{cli: cli, log: log, engine: eng}, nil
}

// Engine returns what the engine said about itself at connection time.
func (o *Orchestrator) Engine() Engine { return o.engine }

// Client returns the underlying API client, for callers that need a call the
// orchestrator does not wrap. The orchestrator keeps owning it.
func (o *Orchestrator) Client() *client.Client { return o.cli }

// Close releases the connection to the engine.
func (o *Orchestrator) Close() error { return o.cli.Close() }
