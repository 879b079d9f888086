package sync

// IncrementalMsg lets the scenario tests count incremental plans.
const IncrementalMsg = incrementalMsg
