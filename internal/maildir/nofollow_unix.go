//go:build unix

package maildir

import "syscall"

const oNoFollow = syscall.O_NOFOLLOW
