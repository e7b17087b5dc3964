//! Remedies are plans first: a pure function picks victims or settings changes and explains
//! each choice ([`plan`], [`settings`]); a separate step re-checks and executes, one outcome per
//! item ([`execute`]). Only the execution step sends SQL that changes anything.

pub mod execute;
pub mod plan;
pub mod settings;
