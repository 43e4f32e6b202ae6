// Package ingest is the upload side of the results server: the CodSpeed
// upload protocol as this runner's client (results/upload) and CodSpeed's
// own runner speak it. A metadata POST to /upload, authorized by a
// project's token, is answered with an upload URL; the archive of the
// profile folder is PUT there, checked (MD5, size, entries) and stored in
// one transaction, or refused with a 4xx and nothing stored.
package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMetadataSize bounds the metadata POST body.
const MaxMetadataSize = 1 << 20

// Metadata is the part of the upload metadata the server reads; the whole
// JSON is kept as received. Field names are CodSpeed's (docs/protocol.md).
type Metadata struct {
	Version            int      `json:"version"`
	Tokenless          bool     `json:"tokenless"`
	ProfileMd5         string   `json:"profileMd5"`
	ProfileEncoding    *string  `json:"profileEncoding"`
	Runner             Runner   `json:"runner"`
	RunEnvironment     string   `json:"runEnvironment"`
	RepositoryProvider string   `json:"repositoryProvider"`
	CommitHash         string   `json:"commitHash"`
	AllowEmpty         bool     `json:"allowEmpty"`
	Ref                string   `json:"ref"`
	HeadRef            *string  `json:"headRef"`
	BaseRef            *string  `json:"baseRef"`
	Owner              string   `json:"owner"`
	Repository         string   `json:"repository"`
	Event              string   `json:"event"`
	Sender             *Sender  `json:"sender"`
	RunPart            *RunPart `json:"runPart"`
}

// Runner is the measuring program and machine.
type Runner struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Instruments []string `json:"instruments"`
	Executor    string   `json:"executor"`
}

// Sender is who triggered the CI run.
type Sender struct {
	ID    json.RawMessage `json:"id"`
	Login string          `json:"login"`
}

// RunPart places the upload in its CI run. Metadata values are any JSON
// (CodSpeed's runner sends a GitHub matrix as an object); this runner sends
// {"mode": "<instrument>"}.
type RunPart struct {
	RunID     string                     `json:"runId"`
	RunPartID string                     `json:"runPartId"`
	JobName   string                     `json:"jobName"`
	Metadata  map[string]json.RawMessage `json:"metadata"`
}

// MetadataError is metadata the server cannot accept; Key names the field.
type MetadataError struct {
	Key string
	Msg string
}

func (e *MetadataError) Error() string {
	if e.Key == "" {
		return "upload metadata: " + e.Msg
	}
	return "upload metadata: " + e.Key + ": " + e.Msg
}

// maxField bounds every string field: refs, names, ids.
const maxField = 1024

// ParseMetadata decodes and checks a metadata POST body: a JSON object with
// a base64 MD5 (profileMd5), a commit hash, a ref, and sane lengths. The
// error is a *MetadataError naming the key.
func ParseMetadata(body []byte) (*Metadata, error) {
	if len(body) > MaxMetadataSize {
		return nil, &MetadataError{Msg: fmt.Sprintf("%d bytes, more than %d", len(body), MaxMetadataSize)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var md Metadata
	if err := dec.Decode(&md); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &MetadataError{Key: te.Field, Msg: fmt.Sprintf("is a JSON %s, want %s", te.Value, te.Type)}
		}
		return nil, &MetadataError{Msg: "not a JSON object: " + err.Error()}
	}
	if dec.More() {
		return nil, &MetadataError{Msg: "trailing data after the JSON object"}
	}
	if err := md.check(); err != nil {
		return nil, err
	}
	return &md, nil
}

func (md *Metadata) check() error {
	sum, err := base64.StdEncoding.DecodeString(md.ProfileMd5)
	if md.ProfileMd5 == "" {
		return &MetadataError{Key: "profileMd5", Msg: "missing"}
	}
	if err != nil || len(sum) != 16 {
		return &MetadataError{Key: "profileMd5", Msg: fmt.Sprintf("%q is not the base64 of an MD5 digest", clip(md.ProfileMd5))}
	}
	if md.ProfileEncoding != nil && *md.ProfileEncoding != "" && *md.ProfileEncoding != "gzip" {
		return &MetadataError{Key: "profileEncoding", Msg: fmt.Sprintf("%q: want gzip or null", clip(*md.ProfileEncoding))}
	}
	if md.CommitHash == "" {
		return &MetadataError{Key: "commitHash", Msg: "missing"}
	}
	if len(md.CommitHash) < 4 || len(md.CommitHash) > 64 || !isHex(md.CommitHash) {
		return &MetadataError{Key: "commitHash", Msg: fmt.Sprintf("%q is not a commit hash", clip(md.CommitHash))}
	}
	if md.Ref == "" {
		return &MetadataError{Key: "ref", Msg: "missing"}
	}
	fields := map[string]string{
		"ref": md.Ref, "owner": md.Owner, "repository": md.Repository, "event": md.Event,
		"runEnvironment": md.RunEnvironment, "repositoryProvider": md.RepositoryProvider,
		"runner.name": md.Runner.Name, "runner.version": md.Runner.Version, "runner.executor": md.Runner.Executor,
	}
	if md.HeadRef != nil {
		fields["headRef"] = *md.HeadRef
	}
	if md.BaseRef != nil {
		fields["baseRef"] = *md.BaseRef
	}
	if md.Sender != nil {
		fields["sender.login"] = md.Sender.Login
	}
	if rp := md.RunPart; rp != nil {
		fields["runPart.runId"], fields["runPart.runPartId"], fields["runPart.jobName"] = rp.RunID, rp.RunPartID, rp.JobName
		if rp.RunID == "" {
			return &MetadataError{Key: "runPart.runId", Msg: "missing"}
		}
		if rp.RunPartID == "" {
			return &MetadataError{Key: "runPart.runPartId", Msg: "missing"}
		}
		for k := range rp.Metadata {
			if len(k) > maxField {
				return &MetadataError{Key: "runPart.metadata", Msg: "a key is longer than 1024 bytes"}
			}
		}
		if v, ok := rp.Metadata["mode"]; ok {
			var mode string
			if json.Unmarshal(v, &mode) != nil {
				return &MetadataError{Key: "runPart.metadata.mode", Msg: "is not a string"}
			}
			fields["runPart.metadata.mode"] = mode
		}
	}
	for key, v := range fields {
		if len(v) > maxField {
			return &MetadataError{Key: key, Msg: fmt.Sprintf("%d bytes, more than %d", len(v), maxField)}
		}
		if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return &MetadataError{Key: key, Msg: "has a control character or invalid UTF-8"}
		}
	}
	return nil
}

// Gzipped says whether the metadata declares a gzip-compressed archive.
func (md *Metadata) Gzipped() bool { return md.ProfileEncoding != nil && *md.ProfileEncoding == "gzip" }

// Branch is the branch the run measured: a merge request's source branch
// (headRef), else the branch of refs/heads/<branch>; "" for a tag or a
// detached commit.
func (md *Metadata) Branch() string {
	if md.PullRequest() != 0 && md.HeadRef != nil && *md.HeadRef != "" {
		return *md.HeadRef
	}
	if b, ok := strings.CutPrefix(md.Ref, "refs/heads/"); ok {
		return b
	}
	if md.HeadRef != nil && *md.HeadRef != "" && !strings.HasPrefix(md.Ref, "refs/") {
		return *md.HeadRef
	}
	return ""
}

// PullRequest is the merge or pull request number of refs/pull/<n>/...
// (what every provider's runner sends), 0 when the run is not one.
func (md *Metadata) PullRequest() int {
	rest, ok := strings.CutPrefix(md.Ref, "refs/pull/")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "/")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Mode is the instrument of this part: runPart.metadata.mode when the
// runner says it, else the executor's (valgrind is simulation).
func (md *Metadata) Mode() string {
	if md.RunPart != nil {
		var mode string
		if json.Unmarshal(md.RunPart.Metadata["mode"], &mode) == nil && mode != "" {
			return mode
		}
	}
	switch md.Runner.Executor {
	case "valgrind":
		return "simulation"
	case "walltime", "memory":
		return md.Runner.Executor
	}
	return ""
}

// SenderLogin is the login of who triggered the run, "" when unknown.
func (md *Metadata) SenderLogin() string {
	if md.Sender == nil {
		return ""
	}
	return md.Sender.Login
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
