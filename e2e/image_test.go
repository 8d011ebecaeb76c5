package e2e

// The container image, checked without building it (no base image can be
// pulled here): the Dockerfile's final stage runs as a numeric user and
// carries the OCI labels; its build stage cross-compiles for TARGETOS and
// TARGETARCH with the version and revision stamped, and its go build
// command, run as it is for linux/arm64, gives a static binary of that
// platform stamped with them; `make image` passes the Makefile's VERSION
// and REVISION; .dockerignore keeps .git out and what the build needs in.

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerInstruction is one instruction of a Dockerfile, continuation lines
// joined.
type dockerInstruction struct {
	line int    // where it starts
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// dockerStages reads a Dockerfile into its stages, each opened by FROM.
// It knows what this repository's Dockerfile uses: comments, backslash
// continuations, no heredocs and no escape directive.
func dockerStages(t *testing.T, path string) [][]dockerInstruction {
	t.Helper()
	var stages [][]dockerInstruction
	var cur *dockerInstruction
	for i, line := range strings.Split(readText(t, path), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		cont := strings.HasSuffix(trimmed, "\\")
		trimmed = strings.TrimSpace(strings.TrimSuffix(trimmed, "\\"))
		if cur == nil {
			cmd, args, _ := strings.Cut(trimmed, " ")
			cur = &dockerInstruction{line: i + 1, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		} else {
			cur.args += " " + trimmed
		}
		if cont {
			continue
		}
		if cur.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if cur.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", path, cur.line, cur.cmd)
			}
		} else {
			stages[len(stages)-1] = append(stages[len(stages)-1], *cur)
		}
		cur = nil
	}
	if len(stages) < 2 {
		t.Fatalf("%s: %d stages, want a build stage and a final one", path, len(stages))
	}
	return stages
}

// find returns the instructions of a stage with the command cmd.
func find(stage []dockerInstruction, cmd string) []dockerInstruction {
	var out []dockerInstruction
	for _, in := range stage {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// declaresArg reports whether the stage declares ARG name before the line.
func declaresArg(stage []dockerInstruction, name string, before int) bool {
	for _, in := range find(stage, "ARG") {
		for _, a := range strings.Fields(in.args) {
			if n, _, _ := strings.Cut(a, "="); n == name && in.line < before {
				return true
			}
		}
	}
	return false
}

var labelRE = regexp.MustCompile(`([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S+)`)

// The image runs as a numeric user (Kubernetes' runAsNonRoot cannot check
// a user name), on distroless/static (CA certificates for TLS to AWS), with
// the OCI labels; version and revision come from the build arguments.
func TestDockerfileFinalStage(t *testing.T) {
	t.Parallel()
	stages := dockerStages(t, "../Dockerfile")
	final := stages[len(stages)-1]

	if from := final[0].args; !strings.HasPrefix(from, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s: want gcr.io/distroless/static, which holds the CA certificates", from)
	}
	users := find(final, "USER")
	if len(users) == 0 {
		t.Fatal("final stage has no USER: the exporter would run as root")
	}
	user := users[len(users)-1].args
	if m := regexp.MustCompile(`^([0-9]+)(?::([0-9]+))?$`).FindStringSubmatch(user); m == nil || m[1] == "0" || m[2] == "0" {
		t.Errorf("final stage USER %q: want a numeric non-root uid:gid, which runAsNonRoot can verify", user)
	}

	labels := map[string]string{}
	for _, in := range find(final, "LABEL") {
		for _, m := range labelRE.FindAllStringSubmatch(in.args, -1) {
			labels[m[1]] = strings.Trim(m[2], `"`)
		}
	}
	module := regexp.MustCompile(`(?m)^module\s+(\S+)$`).FindStringSubmatch(readText(t, "../go.mod"))
	if module == nil {
		t.Fatal("go.mod has no module line")
	}
	license := readText(t, "../LICENSE")
	if !strings.Contains(license, "Apache License") || !strings.Contains(license, "Version 2.0") {
		t.Fatal("LICENSE is not the Apache License 2.0 any more; update this test and the image's licenses label")
	}
	want := map[string]string{
		"org.opencontainers.image.source":   "https://" + module[1],
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.version":  "${VERSION}",
		"org.opencontainers.image.revision": "${REVISION}",
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("final stage LABEL %s=%q, want %q", k, labels[k], v)
		}
	}
	for _, k := range []string{"org.opencontainers.image.title", "org.opencontainers.image.description"} {
		if labels[k] == "" {
			t.Errorf("final stage has no LABEL %s", k)
		}
	}
	// An ARG declared in the build stage only would leave the labels empty.
	for _, arg := range []string{"VERSION", "REVISION"} {
		if !declaresArg(final, arg, find(final, "LABEL")[0].line) {
			t.Errorf("final stage uses ${%s} in its labels without declaring ARG %s first", arg, arg)
		}
	}
}

// buildCommand returns the build stage's go build command.
func buildCommand(t *testing.T) string {
	t.Helper()
	stages := dockerStages(t, "../Dockerfile")
	build := stages[0]
	if from := build[0].args; !strings.HasPrefix(from, "--platform=$BUILDPLATFORM ") && !strings.HasPrefix(from, "--platform=${BUILDPLATFORM} ") {
		t.Errorf("build stage FROM %s: want --platform=$BUILDPLATFORM, so that buildx cross-compiles instead of emulating the target", from)
	}
	var cmd dockerInstruction
	for _, in := range find(build, "RUN") {
		if strings.Contains(in.args, "go build") {
			cmd = in
		}
	}
	if cmd.cmd == "" {
		t.Fatal("build stage has no RUN with go build")
	}
	for _, s := range []string{
		"CGO_ENABLED=0", "GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}", "-trimpath",
		"-X github.com/prometheus/common/version.Version=${VERSION}",
		"-X github.com/prometheus/common/version.Revision=${REVISION}",
		"-o /out/iam_credential_exporter", "./cmd/iam_credential_exporter",
	} {
		if !strings.Contains(cmd.args, s) {
			t.Errorf("Dockerfile:%d: the go build command lacks %q:\n  %s", cmd.line, s, cmd.args)
		}
	}
	for _, arg := range []string{"TARGETOS", "TARGETARCH", "VERSION", "REVISION"} {
		if !declaresArg(build, arg, cmd.line) {
			t.Errorf("build stage uses ${%s} without declaring ARG %s before it", arg, arg)
		}
	}
	return cmd.args
}

// The build stage's go build command, run as the Dockerfile has it with the
// build arguments that buildx sets for `--platform linux/arm64`, builds a
// static linux/arm64 binary stamped with the version and revision passed
// in. (Compiling for another platform proves the cross-compilation; the
// other end-to-end tests run this machine's build.)
func TestDockerfileBuildStage(t *testing.T) {
	t.Parallel()
	cmd := buildCommand(t)
	if t.Failed() {
		return
	}
	const version, revision = "v9.8.7-imagetest", "0123456789abcdef0123456789abcdef01234567"
	bin := filepath.Join(t.TempDir(), "iam_credential_exporter")
	sh := []string{"sh", "-c", strings.Replace(cmd, "/out/iam_credential_exporter", bin, 1)}
	// A cold build takes a CPU-minute or two; at low priority it leaves the
	// CPU to the tests beside it that wait for a scrape or an alert.
	if nice, err := exec.LookPath("nice"); err == nil {
		sh = append([]string{nice, "-n", "10"}, sh...)
	}
	c := exec.CommandContext(t.Context(), sh[0], sh[1:]...)
	c.Dir = ".."
	c.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH=arm64", "VERSION="+version, "REVISION="+revision)
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's go build for linux/arm64: %v\n%s", err, b)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("ELF machine %v, want EM_AARCH64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader: not static, it would not run on distroless/static")
		}
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != v {
			t.Errorf("build setting %s=%q, want %q", k, settings[k], v)
		}
	}
	// -trimpath keeps -ldflags out of the build info; the linker writes an
	// -X value only when the variable exists, so finding both strings shows
	// that the stamping reached prometheus/common/version.
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{version, revision} {
		if !bytes.Contains(data, []byte(s)) {
			t.Errorf("the binary does not hold %q: the -X flags stamped nothing", s)
		}
	}
}

// `make image` builds with the version and revision that `make build`
// stamps, with docker, podman or buildah, for one platform or several.
func TestMakeImage(t *testing.T) {
	t.Parallel()
	mk := requireProgram(t, "make")
	dryRun := func(args ...string) string {
		t.Helper()
		b, err := exec.CommandContext(t.Context(), mk, append([]string{"-n", "-C", ".."}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}

	// One make run, so that both see the same VERSION and REVISION.
	out := dryRun("image", "build")
	ld := regexp.MustCompile(`version\.Version=(\S*) -X github\.com/prometheus/common/version\.Revision=(\S*?)["\s]`).FindStringSubmatch(out)
	if ld == nil {
		t.Fatalf("make -n build stamps no version and revision:\n%s", out)
	}
	for _, want := range []string{
		"docker build ",
		"--build-arg VERSION=" + ld[1] + " ",
		"--build-arg REVISION=" + ld[2] + " ",
		"-t iam_credential_exporter:" + ld[1] + " ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("make -n image lacks %q, as make build stamps it:\n%s", want, out)
		}
	}

	out = dryRun("image", "IMAGE_TOOL=podman", "VERSION=v1.2.3", "REVISION=abc123")
	for _, want := range []string{"podman build ", "--build-arg VERSION=v1.2.3 ", "--build-arg REVISION=abc123 "} {
		if !strings.Contains(out, want) {
			t.Errorf("make -n image IMAGE_TOOL=podman VERSION=v1.2.3 REVISION=abc123 lacks %q:\n%s", want, out)
		}
	}
	out = dryRun("image", "IMAGE_TOOL=docker buildx", "IMAGE_PLATFORMS=linux/amd64,linux/arm64", "IMAGE_FLAGS=--push")
	if !strings.Contains(out, "docker buildx build --platform=linux/amd64,linux/arm64 ") || !strings.Contains(out, " --push .") {
		t.Errorf("make -n image for two platforms with buildx:\n%s", out)
	}
}

// dockerignored reports whether a .dockerignore pattern list excludes path
// (slash-separated, relative to the context): a pattern excludes a path
// when it matches the path or one of its parent directories; **/ matches
// any number of leading directories. Negations (!) are not supported.
func dockerignored(patterns []string, path string) bool {
	parts := strings.Split(path, "/")
	for _, p := range patterns {
		p = strings.TrimPrefix(p, "/")
		anyDepth := strings.HasPrefix(p, "**/")
		p = strings.TrimPrefix(p, "**/")
		for i := range parts {
			if i > 0 && !anyDepth {
				break
			}
			for j := i + 1; j <= len(parts); j++ {
				if ok, _ := filepath.Match(p, strings.Join(parts[i:j], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}

func TestDockerignore(t *testing.T) {
	t.Parallel()
	var patterns []string
	for _, line := range strings.Split(readText(t, "../.dockerignore"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: this test does not handle the negation %q", line)
		}
		patterns = append(patterns, line)
	}
	for _, out := range []string{".git", ".git/config", "iam_credential_exporter", "e2e/e2e.test"} {
		if !dockerignored(patterns, out) {
			t.Errorf(".dockerignore lets %s into the build context", out)
		}
	}
	// What the build reads: the module files, every package, the sample
	// report that the image ships.
	need := []string{"go.mod", "go.sum", "report/testdata/example.csv", "cmd/iam_credential_exporter/main.go"}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && (rel == ".git" || strings.HasPrefix(d.Name(), ".") && rel != ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			need = append(need, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range need {
		if dockerignored(patterns, n) {
			t.Errorf(".dockerignore keeps %s, which the build needs, out of the context", n)
		}
	}
}
