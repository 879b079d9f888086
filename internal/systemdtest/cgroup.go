package systemdtest

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const cgroupPrefix = "systemdtest-"

// cgroupMount is one cgroup hierarchy mounted under /sys/fs/cgroup.
type cgroupMount struct {
	path    string
	v2      bool
	systemd bool // the v1 name=systemd hierarchy
}

func cgroupMounts() ([]cgroupMount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []cgroupMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 5 || len(b) < 3 {
			continue
		}
		if a[4] != "/sys/fs/cgroup" && !strings.HasPrefix(a[4], "/sys/fs/cgroup/") {
			continue
		}
		switch b[0] {
		case "cgroup2":
			ms = append(ms, cgroupMount{path: a[4], v2: true})
		case "cgroup":
			ms = append(ms, cgroupMount{path: a[4], systemd: slices.Contains(strings.Split(b[2], ","), "name=systemd")})
		}
	}
	return ms, sc.Err()
}

// joinDirs returns the cgroups, named name, to start a manager in: the one
// systemd tracks processes with (name=systemd on v1, or cgroup2 alone) and,
// on a hybrid system, the cgroup2 one as well. v1 controllers (memory, pids,
// ...) are left alone: the manager only moves processes in them when it
// starts in the root cgroup, which is what the dedicated cgroup avoids.
func joinDirs(ms []cgroupMount, name string) ([]string, error) {
	var dirs []string
	for _, m := range ms {
		if m.v2 && m.path == "/sys/fs/cgroup" {
			return []string{filepath.Join(m.path, name)}, nil
		}
	}
	for _, m := range ms {
		if m.systemd {
			dirs = append(dirs, filepath.Join(m.path, name))
		}
	}
	if len(dirs) == 0 {
		return nil, errors.New("neither a cgroup2 nor a name=systemd hierarchy is mounted at /sys/fs/cgroup")
	}
	for _, m := range ms {
		if m.v2 {
			dirs = append(dirs, filepath.Join(m.path, name))
		}
	}
	return dirs, nil
}

// subtree lists dir and the cgroups below it, deepest first.
func subtree(dir string) []string {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.Reverse(dirs)
	return dirs
}

// procs lists the processes in dir and below.
func procs(dir string) []int {
	var pids []int
	for _, d := range subtree(dir) {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// killCgroups SIGKILLs whatever is left in dirs until they are empty or
// timeout passes.
func killCgroups(dirs []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, d := range dirs {
			left = append(left, procs(d)...)
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still in %v", left, dirs)
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeCgroup removes dir bottom-up: a cgroup goes only once it has no
// children, and only once its processes are fully gone, hence the retries.
func removeCgroup(dir string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var err error
		for _, d := range subtree(dir) {
			if e := os.Remove(d); e != nil && !errors.Is(e, fs.ErrNotExist) {
				err = e
			}
		}
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var staleName = regexp.MustCompile(`^` + cgroupPrefix + `(\d+)-\d+$`)

// sweepStale removes empty cgroups left by test binaries that died before
// their cleanup ran (a -timeout panic, say); the manager itself was sent
// SIGTERM by Pdeathsig. Cgroups of live processes are not touched.
func sweepStale(ms []cgroupMount) {
	for _, m := range ms {
		ents, _ := os.ReadDir(m.path)
		for _, e := range ents {
			sm := staleName.FindStringSubmatch(e.Name())
			if sm == nil {
				continue
			}
			pid, _ := strconv.Atoi(sm[1])
			if syscall.Kill(pid, 0) != syscall.ESRCH {
				continue
			}
			dir := filepath.Join(m.path, e.Name())
			if len(procs(dir)) == 0 {
				_ = removeCgroup(dir, 0)
			}
		}
	}
}
