package sync

// EventKind tells what an Event reports.
type EventKind int

// The events of one folder's sync, in order: FolderStarted, FolderPlanned
// (unless the folder failed before its plan was made), any number of
// Transferred, then FolderFinished.
const (
	FolderStarted  EventKind = iota
	FolderPlanned            // Total: messages the plan downloads and uploads
	Transferred              // N: messages just downloaded or uploaded
	FolderFinished           // Result: the folder's outcome
)

// Event is a progress report. The daemon keeps its status and the systemd
// watchdog's idea of progress from them.
type Event struct {
	Account string
	Folder  string
	Kind    EventKind
	Total   int           // with FolderPlanned
	N       int           // with Transferred
	Result  *FolderResult // with FolderFinished
}
