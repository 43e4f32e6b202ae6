// Package upload sends a run to CodSpeed, or to any server speaking the same
// protocol (docs/protocol.md §7): the profile folder is archived, its metadata is
// POSTed to the upload endpoint, which answers with a pre-signed URL, and the
// archive is PUT there.
//
// The upload token is a secret: this package never writes it to an error, a
// log line or a file, and redacts it from anything a server sends back.
package upload

// MetadataVersion is the version of the metadata shape this package sends:
// the one with profileMd5/profileEncoding at the top level and the system
// description flattened into runner.
const MetadataVersion = 10

// Executors, as sent in runner.executor.
const (
	ExecutorValgrind = "valgrind"
	ExecutorWalltime = "walltime"
	ExecutorMemory   = "memory"
)

// Metadata is the JSON body of the upload request. Field names and nulls are
// CodSpeed's: optional fields are sent as null, not omitted.
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
	GhData             *GhData  `json:"ghData"`
	GlData             *GlData  `json:"glData"`
	RepositoryRootPath string   `json:"repositoryRootPath"`
	RunPart            *RunPart `json:"runPart"`
}

// Runner describes the program that measured and the machine it ran on.
type Runner struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Instruments []string `json:"instruments"`
	Executor    string   `json:"executor"`
	System
}

// System describes the machine; see ReadSystem.
type System struct {
	OS            string `json:"os"`
	OSVersion     string `json:"osVersion"`
	Arch          string `json:"arch"`
	Host          string `json:"host"`
	User          string `json:"user"`
	CPUBrand      string `json:"cpuBrand"`
	CPUName       string `json:"cpuName"`
	CPUVendorID   string `json:"cpuVendorId"`
	CPUCores      int    `json:"cpuCores"`
	TotalMemoryGb int    `json:"totalMemoryGb"`
}

// RunPart tells the server which part of a CI run this upload is, so that
// several runs in one job (one per mode, or per benchmark group) are kept
// apart instead of overwriting each other.
type RunPart struct {
	RunID     string            `json:"runId"`
	RunPartID string            `json:"runPartId"`
	JobName   string            `json:"jobName"`
	Metadata  map[string]string `json:"metadata"`
}

// NewMetadata assembles the upload body from the detected environment, the
// runner description, the archive and the run part (nil when the run is not
// one of several in a job). tokenless is true when no token (static or OIDC)
// will be sent.
func NewMetadata(info *Source, runner Runner, b *Bundle, part *RunPart, tokenless, allowEmpty bool) Metadata {
	md := Metadata{
		Version:            MetadataVersion,
		Tokenless:          tokenless,
		ProfileMd5:         b.MD5,
		Runner:             runner,
		RunEnvironment:     info.Provider,
		RepositoryProvider: info.RepositoryProvider,
		CommitHash:         info.CommitHash,
		AllowEmpty:         allowEmpty,
		Ref:                info.Ref,
		Owner:              info.Owner,
		Repository:         info.Repository,
		Event:              info.Event,
		Sender:             info.Sender,
		GhData:             info.GhData,
		GlData:             info.GlData,
		RepositoryRootPath: info.RepositoryRootPath,
	}
	if md.Runner.Instruments == nil {
		md.Runner.Instruments = []string{}
	}
	if b.Encoding != "" {
		enc := b.Encoding
		md.ProfileEncoding = &enc
	}
	if info.HeadRef != "" {
		h := info.HeadRef
		md.HeadRef = &h
	}
	if info.BaseRef != "" {
		r := info.BaseRef
		md.BaseRef = &r
	}
	if part != nil {
		p := *part
		if p.Metadata == nil {
			p.Metadata = map[string]string{}
		}
		md.RunPart = &p
	}
	return md
}
