package sync

// EventKind tells what an Event reports.
type EventKind int

// The events of one folder's sync, in order: FolderStarted, FolderPlanned
// (unless the folder failed before its plan was made), any number of
// Transferred, then FolderFinished.
const (
	FolderStarted  EventKind = iota
	FolderPlanned            // Total, Pulls, Pushes: messages the plan moves
	Transferred              // N, Dir, Bytes: messages just moved
	FolderFinished           // Result: the folder's outcome
)

// Direction is the way a Transferred event's messages went.
type Direction int

const (
	Pull Direction = iota // downloaded from the server into the Maildir
	Push                  // uploaded from the Maildir to the server
)

// Event is a progress report. The daemon keeps its status and the systemd
// watchdog's idea of progress from them; `mailsync sync` draws its progress
// bars from them.
type Event struct {
	Account string
	Folder  string
	Kind    EventKind
	// With FolderPlanned: the messages the plan downloads (Pulls) and
	// uploads (Pushes), and both together (Total).
	Total, Pulls, Pushes int
	// With Transferred: N messages went in direction Dir, Bytes in all
	// (their size on the server).
	N     int
	Dir   Direction
	Bytes int64
	// With FolderFinished.
	Result *FolderResult
}
