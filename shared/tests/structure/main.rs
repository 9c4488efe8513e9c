//! The project's checks of itself, read from its source, its manifests and its documents;
//! they need no stack, so `make check` runs them. One binary, in the manner of the
//! end-to-end tests (`tests/tests/api/`).
//!
//! - `architecture`: the layers, their direction and what a handler may hold;
//! - `dependencies`: what the functions, the rules and the verifier link;
//! - `errors`: every problem the server builds has a status its code declares;
//! - `docs`: the README is short and maps the manual, and no link leads nowhere.

mod architecture;
mod dependencies;
mod docs;
mod errors;
