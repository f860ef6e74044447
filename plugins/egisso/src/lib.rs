//! EGISSO connector (in progress).
//! Renders facts of assignment and reads EGISSO reference lists.
