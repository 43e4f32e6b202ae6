package ci

import (
	"bytes"
	"testing"
	"time"
)

func TestGroups(t *testing.T) {
	clock := func() time.Time { return time.Unix(1764111600, 0) }
	tests := []struct {
		provider string
		want     string
	}{
		{GitHubActions, "::group::Running benchmarks\n::group::Upload: part 2\n::endgroup::\n::endgroup::\n"},
		{GitLabCI, "\x1b[0Ksection_start:1764111600:codspeed_0_running_benchmarks[collapsed=true]\r\x1b[0KRunning benchmarks\n" +
			"\x1b[0Ksection_start:1764111600:codspeed_1_upload_part_2[collapsed=true]\r\x1b[0KUpload: part 2\n" +
			"\x1b[0Ksection_end:1764111600:codspeed_1_upload_part_2\r\x1b[0K\n" +
			"\x1b[0Ksection_end:1764111600:codspeed_0_running_benchmarks\r\x1b[0K\n"},
		{Buildkite, "--- Running benchmarks\n--- Upload: part 2\n"},
		{Jenkins, "==> Running benchmarks\n==> Upload: part 2\n"},
		{Local, "==> Running benchmarks\n==> Upload: part 2\n"},
	}
	for _, tt := range tests {
		info := &Info{Provider: tt.provider, now: clock}
		var buf bytes.Buffer
		info.GroupStart(&buf, "Running benchmarks")
		info.GroupStart(&buf, "Upload: part\n2")
		info.GroupEnd(&buf)
		info.GroupEnd(&buf)
		info.GroupEnd(&buf) // unbalanced end: nothing more written
		if buf.String() != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.provider, buf.String(), tt.want)
		}
	}
}
