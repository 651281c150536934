//! B301 `pickle` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags calls that unpickle data: `pickle`, `dill`, `shelve`, `jsonpickle` and
//! `pandas.read_pickle`.
//!
//! ## Why is this bad?
//! Unpickling calls constructors named by the data itself, so a crafted payload executes code.
//!
//! ## Example
//! ```python
//! import pickle
//! obj = pickle.loads(payload)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B301",
    severity: Severity::Medium,
    qualnames: &[
        "pickle.loads",
        "pickle.load",
        "pickle.Unpickler",
        "dill.loads",
        "dill.load",
        "dill.Unpickler",
        "shelve.open",
        "shelve.DbfilenameShelf",
        "jsonpickle.decode",
        "jsonpickle.unpickler.decode",
        "jsonpickle.unpickler.Unpickler",
        "pandas.read_pickle",
    ],
    message: "Deserializing with pickle or a library built on it ({name}) can run arbitrary code \
        when the data is untrusted.",
};
