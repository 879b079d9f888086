package dovetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// mailAcct is the OS account Dovecot uses for mail and its internal
// services. Dovecot refuses to access mail as root, so when we are root we
// borrow the "dovecot" system user; otherwise everything runs as ourselves.
type mailAcct struct {
	user, group string
	uid, gid    int
	root        bool
	loginUser   string
}

func mailAccount() (mailAcct, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return mailAcct{}, err
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			return mailAcct{}, err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return mailAcct{user: u.Username, group: g.Name, uid: uid, gid: gid, loginUser: u.Username}, nil
	}
	u, err := user.Lookup("dovecot")
	if err != nil {
		return mailAcct{}, fmt.Errorf("running as root needs the 'dovecot' system user: %v", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return mailAcct{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	login := "dovenull"
	if _, err := user.Lookup(login); err != nil {
		login = u.Username
	}
	return mailAcct{user: u.Username, group: g.Name, uid: uid, gid: gid, root: true, loginUser: login}, nil
}

func (a mailAcct) chown(p string) error {
	if !a.root {
		return nil
	}
	return os.Chown(p, a.uid, a.gid)
}

// makeRootDir creates the server's directory. Not t.TempDir: its path embeds
// the test name and can push Dovecot's unix socket paths past the 108-byte
// sun_path limit, and its 0700 parent is not traversable by the dovecot user.
func makeRootDir(t TB) string {
	t.Helper()
	base := os.TempDir()
	if len(base) > 40 || strings.ContainsAny(base, " \t\"'\\#{}$%") || !worldTraversable(base) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "dovetest-")
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	// Registered before the stop cleanup, so it runs after it (LIFO).
	t.Cleanup(func() {
		if keep, _ := strconv.ParseBool(os.Getenv("DOVETEST_KEEP")); keep {
			t.Logf("dovetest: DOVETEST_KEEP set, leaving %s", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("dovetest: %v", err)
		}
	})
	return dir
}

func worldTraversable(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func findBinary(name string, fallbacks ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// /usr/sbin is often not in a non-root PATH.
	for _, f := range fallbacks {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return f
		}
	}
	return ""
}
