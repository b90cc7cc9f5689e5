//! BBR (draft-ietf-ccwg-bbr) through the connection and through its model,
//! in virtual time. Two harnesses: [`path::Path`], a sender [`Tcb`] over a
//! modelled bottleneck and delay; [`model::Model`], BBR's model fed
//! synthetic rate samples. The tests are grouped by the part of the
//! algorithm they check.

use super::*;
use crate::tcp::bbr::{AckContext, Bbr};
use crate::tcp::rate::RateSample;
use crate::tcp::{BbrMode, CcState};
use std::collections::VecDeque;

mod model;
mod path;

use model::{model_probing_up, Model, BDP, RATE};
use path::{path, Path};

const MSS: usize = 1460;

mod estimate;
mod loss;
mod pacing;
mod probe_bw;
mod probe_rtt;
mod startup;
