package config

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// general decodes [general]: the state directory, the limits, and the
// schedule and hooks every account falls back to.
func (d *decoder) general(rt *table) General {
	g := General{MaxSyncAccounts: DefaultMaxSyncAccounts, Schedule: DefaultSchedule(), Hooks: DefaultHooks()}
	gpath := []string{"general"}
	// A state_dir (or general table) already reported as wrong must not
	// also be reported as missing.
	reported := rt.has("general")
	if gt, ok := rt.sub("general", generalKeys); ok {
		gpath = gt.path
		reported = false
		if gt.has("state_dir") {
			reported = true
			if raw, ok := gt.str("state_dir"); ok {
				if p, ok := d.expandPath(gt.key("state_dir"), raw); ok {
					g.StateDir, reported = p, false
				}
			}
		}
		g.MaxSyncAccounts = gt.intRange("max_sync_accounts", DefaultMaxSyncAccounts, 1, 0)
		g.Schedule = gt.schedule(g.Schedule)
		g.Hooks = gt.hooks(g.Hooks)
		if s, ok := gt.str("failure_hook"); ok {
			if strings.TrimSpace(s) == "" {
				gt.d.errorf(gt.key("failure_hook"), "must not be empty; leave the key out for no hook")
			} else {
				g.FailureHook = s
			}
		}
		g.Mailboxes = gt.mailboxes()
		gt.checkUnknown()
	}
	if g.StateDir == "" && !reported {
		g.StateDir = DefaultStateDir(d.env)
		if g.StateDir == "" {
			d.errorf(append(gpath, "state_dir"), "has no default because neither XDG_STATE_HOME nor HOME is set to an absolute path; set it explicitly")
		}
	}
	return g
}

func (d *decoder) accounts(rt *table, cfg *Config) {
	if !rt.has("accounts") {
		d.errorf([]string{"accounts"}, "no accounts defined; add an [accounts.NAME] table")
		return
	}
	at, ok := rt.sub("accounts", nil)
	if !ok {
		return
	}
	if len(at.m) == 0 {
		d.errorf(at.path, "no accounts defined; add an [accounts.NAME] table")
		return
	}
	for _, name := range at.sortedKeys() {
		path := at.key(name)
		valid := accountNameRE.MatchString(name)
		if !valid {
			d.errorf(path, `invalid account name: use only letters, digits, ".", "_" and "-", starting with a letter or digit (the name becomes a file name and a systemd instance name)`)
		}
		t, ok := at.sub(name, accountKeys)
		if !ok {
			continue
		}
		acc := d.account(t, name, cfg.General)
		if valid && acc != nil {
			cfg.Accounts[name] = acc
		}
	}
}

func (d *decoder) account(t *table, name string, g General) *Account {
	acc := &Account{Name: name}
	// Remote and local keys at the account level are a likely slip; say
	// where they belong instead of guessing a similar-looking name.
	t.hints = map[string]string{}
	remote, local := keyString(t.key("remote")), keyString(t.key("local"))
	for _, k := range remoteKeys {
		t.hints[k] = fmt.Sprintf("%s belongs in [%s]", k, remote)
	}
	for _, k := range localKeys {
		if slices.Contains(remoteKeys, k) {
			t.hints[k] = fmt.Sprintf("%s belongs in [%s] or [%s]", k, remote, local)
		} else {
			t.hints[k] = fmt.Sprintf("%s belongs in [%s]", k, local)
		}
	}

	if v, present := t.m["max_age"]; present {
		switch v := v.(type) {
		case string:
			m, err := ParseMaxAge(v)
			if err != nil {
				d.add(t.key("max_age"), err.Error(), err)
			}
			acc.MaxAge = m
		case time.Time:
			if v.Location().String() != "date-local" {
				d.errorf(t.key("max_age"), `must be a date without a time of day or time zone, like 2024-01-31, or a duration string like "90d"`)
			} else {
				acc.MaxAge = maxAgeFromDate(v)
			}
		default:
			d.errorf(t.key("max_age"), `must be a duration string like "90d" or a date like 2024-01-31, not %s`, typeName(v))
		}
	}
	if v, present := t.m["max_size"]; present {
		switch v := v.(type) {
		case int64:
			if v < 0 {
				d.errorf(t.key("max_size"), "must not be negative (got %d)", v)
			}
			acc.MaxSize = v
		case string:
			n, err := ParseSize(v)
			if err != nil {
				d.add(t.key("max_size"), err.Error(), err)
			}
			acc.MaxSize = n
		default:
			d.errorf(t.key("max_size"), `must be a size string like "25MB" or a number of bytes, not %s`, typeName(v))
		}
	}

	acc.Schedule = t.schedule(g.Schedule)
	acc.Hooks = t.hooks(g.Hooks)

	// The account's own keys, one table too deep, are a likely slip.
	accountHints := map[string]string{}
	for _, k := range slices.Concat(scheduleKeys, hookKeys) {
		accountHints[k] = fmt.Sprintf("%s belongs in [%s] (or in [general], for every account)", k, keyString(t.path))
	}
	if rt, ok := t.sub("remote", remoteKeys); ok {
		rt.hints = accountHints
		acc.Remote = d.remote(rt, name)
	} else if !t.has("remote") {
		d.errorf(t.key("remote"), "required table is missing; add [%s] with at least host, user and a password source", keyString(t.key("remote")))
	}
	if lt, ok := t.sub("local", localKeys); ok {
		lt.hints = accountHints
		acc.Local = d.local(lt)
	} else if !t.has("local") {
		d.errorf(t.key("local"), "required table is missing; add [%s] with at least path", keyString(t.key("local")))
	}
	t.checkUnknown()
	return acc
}

// schedule reads the daemon's keys of the table, each defaulting to base's.
func (t *table) schedule(base Schedule) Schedule {
	s := base
	s.Autorefresh = t.duration("autorefresh", base.Autorefresh, MinAutorefresh, 0)
	if n, ok := t.integer("quick"); ok {
		if n < -1 || n > math.MaxInt32 {
			t.d.errorf(t.key("quick"), "must be -1 (always quick), 0 (never) or the number of quick syncs between full ones (got %d)", n)
		} else {
			s.Quick = int(n)
		}
	}
	if v, present := t.m["idle_folders"]; present {
		if names, ok := t.d.stringList(t.key("idle_folders"), v); ok {
			s.IdleFolders = nil
			for i, n := range names {
				if strings.TrimSpace(n) == "" {
					t.d.errorf(t.key("idle_folders"), "element %d must not be empty", i+1)
					continue
				}
				if !slices.Contains(s.IdleFolders, n) {
					s.IdleFolders = append(s.IdleFolders, n)
				}
			}
		}
	}
	s.WatchLocal = t.boolean("watch_local", base.WatchLocal)
	if k := t.duration("keepalive", base.Keepalive, time.Second, 0); k >= MaxKeepalive {
		t.d.errorf(t.key("keepalive"), "must be under %s: a server may log out a connection silent for 30 minutes (RFC 9051) (got %s)",
			shortDuration(MaxKeepalive), shortDuration(k))
	} else {
		s.Keepalive = k
	}
	s.Jitter = t.duration("jitter", base.Jitter, 0, 0)
	return s
}

// hooks reads the hook keys of the table, each defaulting to base's.
func (t *table) hooks(base Hooks) Hooks {
	h := base
	for _, k := range []struct {
		key string
		dst *string
	}{{"presync_hook", &h.Presync}, {"postsync_hook", &h.Postsync}, {"newmail_hook", &h.Newmail}} {
		if s, ok := t.str(k.key); ok {
			if strings.TrimSpace(s) == "" {
				t.d.errorf(t.key(k.key), "must not be empty; leave the key out for no hook")
				continue
			}
			*k.dst = s
		}
	}
	h.Timeout = t.duration("hook_timeout", base.Timeout, time.Second, 0)
	return h
}
