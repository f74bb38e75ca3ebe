//! CDS Hooks 2.0 (standards.md §1): wire types, the Lenaguard services and their prefetch, and the card.

pub mod card;
pub mod services;
pub mod types;

pub use card::{CardContext, CardOutcome, card_for};
pub use services::{discovery, prefetch_bundle, prefetch_templates};
pub use types::*;
