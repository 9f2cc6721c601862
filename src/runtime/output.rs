//! (being written by a helper: env formats, --out files, --explain)
