package web

import "html/template"

// pages holds every page template. html/template escapes every value from
// the data (names, branches, commits, errors) for its context; the chart
// and flame graph SVGs are the only trusted markup, built by writers that
// escape their own text.
var pages = template.Must(template.New("pages").Funcs(template.FuncMap{
	"trusted": trusted,
}).Parse(`
{{define "top"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{.Title}} · codspeed</title>
<style>` + css + `</style>
</head>
<body>
<nav><a href="/">codspeed</a>{{with .Project}} / <a href="{{$.Href}}">{{.Slug}}</a>{{end}}</nav>
<main>
{{end}}

{{define "bottom"}}</main>
</body>
</html>
{{end}}

{{define "error"}}{{template "top" .}}
<h1>{{.Title}}</h1>
<p class="error">{{.Message}}</p>
{{template "bottom" .}}{{end}}

{{define "home"}}{{template "top" .}}
<h1>Projects</h1>
{{if .Projects}}<table id="projects">
<tr><th class="name">Project</th><th>Default branch</th><th>Runs</th><th>Last run</th></tr>
{{range .Projects}}<tr><td class="name"><a href="{{.Href}}">{{.Slug}}</a></td><td>{{.DefaultBranch}}</td><td>{{.Runs}}</td><td>{{.LastRun}}</td></tr>
{{end}}</table>
{{else}}<p>No project yet. Create an upload token with <code>codspeed serve token create OWNER/NAME</code> and upload a run with <code>codspeed run --upload-url http://THIS-SERVER/upload --token TOKEN</code>.</p>{{end}}
{{template "bottom" .}}{{end}}

{{define "changes-table"}}{{if .}}<table class="changes">
<tr><th>First run at the new level</th><th>Commit</th><th class="name">Benchmark</th><th>Figure</th><th>Before</th><th>After</th><th>Change</th><th>p</th><th></th></tr>
{{range .}}<tr class="{{.Class}}"><td><a href="{{.RunHref}}">{{.When}}</a></td><td><code>{{.Short}}</code></td><td class="name">{{.Name}} <small>({{.Instrument}})</small></td><td>{{.Metric}}</td><td>{{.Before}}</td><td>{{.After}}</td><td class="verdict">{{.Pct}}</td><td>{{.P}}</td><td>{{if .PreviousRunID}}<a href="{{.CompareHref}}">compare</a>{{end}}</td></tr>
{{end}}</table>{{else}}<p>No change detected.</p>{{end}}{{end}}

{{define "project"}}{{template "top" .}}
<h1>{{.Project.Slug}}</h1>
<p class="meta">History of branch <code>{{.Branch}}</code>{{if ne .Branch .Project.DefaultBranch}} (default: <a href="{{.Href}}">{{.Project.DefaultBranch}}</a>){{end}} · {{.Project.Runs}} runs · <a href="{{.Href}}/compare">compare runs</a> · <a href="{{.Href}}/changes">changes</a></p>
{{if gt (len .BranchLinks) 1}}<p class="meta">Branches: {{range $i, $b := .BranchLinks}}{{if $i}} · {{end}}{{if eq $b.Name $.Branch}}<strong>{{$b.Name}}</strong>{{else}}<a href="{{$b.Href}}">{{$b.Name}}</a>{{end}}{{end}}</p>{{end}}
{{template "compare-box" .}}
<h2>Detected changes</h2>
{{template "changes-table" .Changes}}
<p class="method">Changes are steps in a benchmark's history: walltime's fastest round and memory figures by E-divisive means with a Student's t-test (as Apache Otava does, p ≤ 0.001), simulation's instructions by threshold alone; changes smaller than the instrument's compare threshold are not shown.</p>
<h2>Benchmarks</h2>
{{if not .Series}}<p>No run of <code>{{.Branch}}</code> yet.</p>{{end}}
{{range .Series}}<section class="bench" id="{{.ID}}" data-instrument="{{.Instrument}}" data-uri="{{.URI}}" data-runs="{{.Runs}}">
<h3 class="bench-name">{{.Name}}</h3>
<p class="meta">{{.Instrument}} · {{.Runs}} runs · <code>{{.URI}}</code></p>
{{range .Charts}}<figure><figcaption>{{.Caption}}</figcaption>{{trusted .SVG}}</figure>{{end}}
</section>
{{end}}
<h2>Recent runs</h2>
{{template "runs-table" .Runs}}
{{template "bottom" .}}{{end}}

{{define "compare-box"}}<form class="compare" method="get" action="{{.Href}}/compare">
<label>Base <input name="base" list="refs" placeholder="branch, commit or run id" value="{{.Project.DefaultBranch}}"></label>
<label>Head <input name="head" list="refs" placeholder="branch, commit or run id"></label>
<button type="submit">Compare</button>
<datalist id="refs">{{range .Branches}}<option value="{{.}}">{{end}}</datalist>
</form>{{end}}

{{define "runs-table"}}{{if .}}<table class="runs">
<tr><th>Run</th><th>Branch</th><th>Commit</th><th>Event</th><th>Modes</th><th>Status</th><th>Benchmarks</th><th></th></tr>
{{range .}}<tr><td><a href="{{.Href}}">{{.When}}</a></td><td>{{.Branch}}{{if .PullRequest}} <small>(#{{.PullRequest}})</small>{{end}}</td><td><code>{{.Short}}</code></td><td>{{.Event}}{{with .Pair}} <small>(A/B {{.Role}})</small>{{end}}</td><td>{{range $i, $m := .Modes}}{{if $i}}, {{end}}{{$m}}{{end}}</td><td>{{.Status}}</td><td>{{.Benchmarks}}</td><td>{{if .CompareHref}}<a href="{{.CompareHref}}">compare</a>{{end}}</td></tr>
{{end}}</table>{{else}}<p>No run.</p>{{end}}{{end}}

{{define "changes"}}{{template "top" .}}
<h1>Changes of {{.Project.Slug}}</h1>
<p class="meta">Branch <code>{{.Branch}}</code></p>
{{template "changes-table" .Changes}}
{{template "bottom" .}}{{end}}

{{define "run"}}{{template "top" .}}
<h1>Run <code>{{.Run.ID}}</code></h1>
<table class="facts">
<tr><th>Project</th><td><a href="{{.ProjectHref}}">{{.Project.Slug}}</a></td></tr>
<tr><th>Branch</th><td>{{.Run.Branch}}{{if .Run.PullRequest}} (merge request #{{.Run.PullRequest}} into {{.Run.BaseRef}}){{end}}</td></tr>
<tr><th>Commit</th><td><code>{{.Run.Commit}}</code></td></tr>
<tr><th>Event</th><td>{{.Run.Event}}{{with .Run.RunEnvironment}} ({{.}}){{end}}</td></tr>
<tr><th>Received</th><td>{{.When}}</td></tr>
<tr><th>Status</th><td>{{.Run.Status}}: {{.Run.Benchmarks}} benchmarks, {{.Run.Failed}} failed</td></tr>
<tr><th>Parts</th><td>{{range $i, $p := .Run.Parts}}{{if $i}}; {{end}}{{$p.Mode}} ({{$p.RunnerName}} {{$p.RunnerVersion}}{{with $p.JobName}}, job {{.}}{{end}}){{end}}</td></tr>
{{with .Run.Pair}}<tr><th>A/B pair</th><td>the {{.Role}} side{{with .Label}} (<code>{{.}}</code>){{end}} of a paired measurement (<code>codspeed ab</code>: both sides' rounds alternated in one job); {{if $.PairArrived}}<a href="{{$.PairHref}}">the {{$.PairOther}} run</a>{{else}}the {{$.PairOther}} run <code>{{.Run}}</code> has not been uploaded{{end}}</td></tr>{{end}}
{{with .Shards}}<tr><th>Shards</th><td>{{len .Arrived}} of {{.Total}} arrived{{if .Missing}}; not arrived: {{range $i, $m := .Missing}}{{if $i}}, {{end}}{{$m}}{{end}}{{else}}: complete{{end}}</td></tr>{{end}}
</table>
{{if .CompareHref}}<p><a href="{{.CompareHref}}">Compare with {{.CompareBase}}</a></p>{{end}}
<h2>Benchmarks</h2>
<table class="benchmarks">
<tr><th class="name">Benchmark</th><th>Instrument</th><th class="name">Figures</th></tr>
{{range .Benchmarks}}<tr{{if .Error}} class="bad"{{end}}><td class="name"><a href="#{{.ID}}">{{.Name}}</a></td><td>{{.Instrument}}</td><td class="name">{{if .Error}}failed: {{.Error}}{{else}}{{range $i, $f := .Figures}}{{if $i}} · {{end}}{{$f}}{{end}}{{end}}</td></tr>
{{end}}</table>
{{range .Benchmarks}}{{if or .Graph .GraphError}}<section class="bench" id="{{.ID}}">
<h3>{{.Name}} <small>({{.Instrument}})</small></h3>
{{with .GraphError}}<p class="notes">{{.}}</p>{{end}}
{{with .Graph}}<details{{if $.OpenGraphs}} open{{end}}><summary>Flame graph</summary><div class="graph">{{.}}</div></details>{{end}}
</section>{{end}}{{end}}
{{template "bottom" .}}{{end}}

{{define "compare-form"}}{{template "top" .}}
<h1>Compare runs of {{.Project.Slug}}</h1>
<p>Give each side as a run id, a branch (its newest run) or a commit. Verdicts and thresholds are those of <code>codspeed compare</code>.</p>
{{template "compare-box" .}}
<h2>Recent runs</h2>
{{template "runs-table" .Runs}}
{{template "bottom" .}}{{end}}

{{define "compare-nav"}}<nav style="font: 14px system-ui, sans-serif; margin-bottom: 12px"><a href="/">codspeed</a> / <a href="{{.Href}}">{{.Project.Slug}}</a> / compare <a href="{{.BaseHref}}">{{.Base}}</a> → <a href="{{.HeadHref}}">{{.Head}}</a></nav>
{{end}}
`))

const css = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d1d1f; background: #fff; }
nav { padding: 10px 24px; background: #f4f4f6; border-bottom: 1px solid #ddd; }
main { padding: 8px 24px 40px; max-width: 1100px; }
a { color: #0645ad; }
h1 { font-size: 22px; margin: 12px 0 4px; word-break: break-all; }
h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 20px 0 2px; word-break: break-all; font-family: ui-monospace, monospace; }
.meta, .method { color: #555; margin: 2px 0 8px; }
.method { font-size: 12px; }
.error { color: #b00020; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { background: #f4f4f6; }
td.name, th.name, table.facts th, table.facts td, table.runs td, table.runs th { text-align: left; }
td.name { white-space: normal; word-break: break-all; max-width: 40em; }
tr.bad td.verdict, tr.bad td.name { color: #b00020; }
tr.good td.verdict { color: #087f23; }
form.compare { margin: 8px 0; display: flex; gap: 12px; flex-wrap: wrap; align-items: center; }
form.compare input { width: 16em; }
section.bench { border-top: 1px solid #eee; }
figure { margin: 4px 0 12px; }
figcaption { color: #555; font-size: 12px; }
svg.chart { width: 100%; max-width: 760px; height: auto; display: block; }
svg.chart .grid { stroke: #eee; }
svg.chart .tick { font-size: 10px; fill: #666; text-anchor: end; dominant-baseline: middle; }
svg.chart .date { font-size: 10px; fill: #666; }
svg.chart .date.end { text-anchor: end; }
svg.chart .band { fill: #cfe0f5; stroke: none; }
svg.chart .line { fill: none; stroke: #1f5fa8; stroke-width: 1.2; }
svg.chart .line.second { stroke: #888; stroke-width: 1; stroke-dasharray: 3 2; }
svg.chart .pt { fill: #1f5fa8; }
svg.chart .pt:hover { fill: #000; }
svg.chart .pt.failed { stroke: #b00020; stroke-width: 1.5; fill: none; }
svg.chart .change { stroke-width: 2; stroke-dasharray: 5 3; }
svg.chart .change.up { stroke: #b00020; }
svg.chart .change.down { stroke: #087f23; }
.graph { overflow-x: auto; }
.graph svg { max-width: 100%; height: auto; }
.notes { color: #555; }
`
