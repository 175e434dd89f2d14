//! Consolidation (docs/design.md §4): each node's nine tables as its own figures plus its children's consolidated figures,
//! less the transfers inside the group (eliminations, kept as their own adjustment layer), always current.

pub mod layout;
pub mod snapshot;
pub mod state;
