//! A snapshot of a year's counted figures, so that a restart answers its first consolidated request without
//! reading and converting every counted version again (P10k: seconds of JSON parsing).
//!
//! It is written at a clean stop and used only when it is exact: it names the last audit event it reflects (every
//! submission, review decision and registration appends one), the year and the layout of cells it was made under;
//! any change since, another taxonomy, or a damaged file (a CRC-32 closes it) and the year is rebuilt from the
//! store as before. The tree is not in it: the registry is read from the store either way, which is quick.

use sm3::{Digest, Sm3};

use super::{
    layout::CellLayout,
    state::{OwnData, YearState},
};
use crate::domain::ids::{FiscalYear, UnitCode};

const MAGIC: &[u8] = b"juesuan consolidation snapshot 3\n";
/// A CRC-32 closes the file: it guards against damage, not against an adversary (who could as well edit the
/// database), and at several GB/s it keeps a P10k snapshot's check to tens of milliseconds where SM3 took most of
/// a second.
const DIGEST_BYTES: usize = 4;

fn checksum(bytes: &[u8]) -> [u8; DIGEST_BYTES] {
    crc32fast::hash(bytes).to_le_bytes()
}

/// The file name a year's snapshot is kept under.
pub fn name(year: FiscalYear) -> String {
    format!("consolidation-{year}.snapshot")
}

/// Where the store keeps the snapshot a newer one replaced: used when the newer one fails its checksum.
pub fn previous_name(year: FiscalYear) -> String {
    format!("{}.previous", name(year))
}

/// What a snapshot must match to be used: the layout's cells, by an SM3 digest of their keys.
pub fn layout_fingerprint(layout: &CellLayout) -> [u8; 32] {
    let mut hasher = Sm3::new();
    for key in &layout.cells {
        hasher.update((key.table as u64).to_le_bytes());
        hasher.update((key.row.len() as u64).to_le_bytes());
        hasher.update(key.row.as_bytes());
        hasher.update((key.column as u64).to_le_bytes());
    }
    hasher.finalize().into()
}

/// The counted figures of every node that has them, after `marker` (the last audit event they reflect).
pub fn encode(state: &YearState, year: FiscalYear, marker: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&year.get().to_le_bytes());
    out.extend_from_slice(&marker.to_le_bytes());
    // The code rows the layout grew by, in order: a reader adds them to the taxonomy's lines to number the cells
    // the same way.
    out.extend_from_slice(&(state.layout.code_rows.len() as u32).to_le_bytes());
    for (list, code) in &state.layout.code_rows {
        for text in [list, code] {
            out.extend_from_slice(&(text.len() as u16).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
    }
    out.extend_from_slice(&layout_fingerprint(&state.layout));
    let owned: Vec<(&UnitCode, &OwnData)> = state
        .nodes
        .iter()
        .filter_map(|node| Some((&node.code, node.own.as_ref()?)))
        .collect();
    out.extend_from_slice(&(owned.len() as u32).to_le_bytes());
    for (code, own) in owned {
        let code = code.as_str().as_bytes();
        out.extend_from_slice(&(code.len() as u16).to_le_bytes());
        out.extend_from_slice(code);
        out.extend_from_slice(&own.version.to_le_bytes());
        out.extend_from_slice(&own.inexact.to_le_bytes());
        out.extend_from_slice(&(own.partial_tables.len() as u32).to_le_bytes());
        for table in &own.partial_tables {
            out.extend_from_slice(&(*table as u32).to_le_bytes());
        }
        out.extend_from_slice(&(own.len() as u32).to_le_bytes());
        for (id, value, code) in own.iter_with_half_ulp_codes() {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&value.to_le_bytes());
            out.push(code);
        }
    }
    let digest = checksum(&out);
    out.extend_from_slice(&digest);
    out
}

/// Why a snapshot was not used (for the log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stale {
    #[error("damaged (checksum or format)")]
    Damaged,
    #[error("made for another year")]
    OtherYear,
    #[error("the store changed since (audit event {made} then, {now} now)")]
    Changed { made: u64, now: u64 },
    #[error("made under another layout of cells (another taxonomy)")]
    OtherLayout,
}

/// A reader of little-endian fields that fails instead of panicking on a short input.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Stale> {
        if self.0.len() < n {
            return Err(Stale::Damaged);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u16(&mut self) -> Result<u16, Stale> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32, Stale> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, Stale> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

/// Counted figures as a snapshot holds them, with the layout they are numbered by (the taxonomy's lines and the
/// code rows the snapshot names).
pub type Decoded = (Vec<(UnitCode, OwnData)>, CellLayout);

/// The counted figures a snapshot holds, by unit, when it is exact for `year` at `marker` under a layout of
/// `base`'s lines (grown by the snapshot's code rows).
#[cfg(test)]
fn decode(
    bytes: &[u8],
    year: FiscalYear,
    marker: u64,
    base: &CellLayout,
) -> Result<Decoded, Stale> {
    decode_made(bytes, year, base, |made| {
        if made == marker {
            Ok(())
        } else {
            Err(Stale::Changed { made, now: marker })
        }
    })
    .map(|(_, decoded)| decoded)
}

/// The counted figures a snapshot holds and the marker it was made at, when that is at or before `marker`: for a
/// state that then catches up with the changes after it (a store that replicas share, where the store has always
/// moved on by the time one of them starts).
pub fn decode_up_to(
    bytes: &[u8],
    year: FiscalYear,
    marker: u64,
    base: &CellLayout,
) -> Result<(u64, Decoded), Stale> {
    decode_made(bytes, year, base, |made| {
        if made <= marker {
            Ok(())
        } else {
            Err(Stale::Changed { made, now: marker })
        }
    })
}

fn decode_made(
    bytes: &[u8],
    year: FiscalYear,
    base: &CellLayout,
    acceptable: impl Fn(u64) -> Result<(), Stale>,
) -> Result<(u64, Decoded), Stale> {
    if bytes.len() < MAGIC.len() + DIGEST_BYTES || !bytes.starts_with(MAGIC) {
        return Err(Stale::Damaged);
    }
    let (body, digest) = bytes.split_at(bytes.len() - DIGEST_BYTES);
    if parallel_checksum(body) != digest {
        return Err(Stale::Damaged);
    }
    let mut reader = Reader(&body[MAGIC.len()..]);
    if reader.u32()? != year.get() {
        return Err(Stale::OtherYear);
    }
    let made = reader.u64()?;
    acceptable(made)?;
    let code_rows = reader.u32()?;
    let mut layout = base.clone();
    for _ in 0..code_rows {
        let mut text = || -> Result<String, Stale> {
            let length = usize::from(reader.u16()?);
            std::str::from_utf8(reader.take(length)?)
                .map(str::to_owned)
                .map_err(|_| Stale::Damaged)
        };
        let (list, code) = (text()?, text()?);
        layout.add_code(&list, &code);
    }
    if reader.take(32)? != layout_fingerprint(&layout) {
        return Err(Stale::OtherLayout);
    }
    let count = reader.u32()?;
    // One quick pass finds where each unit's record ends; the records are then decoded on every core, a
    // contiguous run of them each (a province's snapshot is over a GB).
    let records = split_records(reader.0, count)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(records.len())
        .max(1);
    let cells = layout.len() as u64;
    let per_thread = records.len().div_ceil(threads).max(1);
    let decoded: Vec<Result<Vec<(UnitCode, OwnData)>, Stale>> = std::thread::scope(|scope| {
        let handles: Vec<_> = records
            .chunks(per_thread)
            .map(|run| {
                scope.spawn(move || {
                    run.iter()
                        .map(|record| decode_record(record, cells))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or(Err(Stale::Damaged)))
            .collect()
    });
    let mut owned = Vec::with_capacity(records.len());
    for run in decoded {
        owned.extend(run?);
    }
    Ok((made, (owned, layout)))
}

/// The CRC-32 of `bytes`, computed in two halves on two threads and combined (the same value as `checksum`).
fn parallel_checksum(bytes: &[u8]) -> [u8; DIGEST_BYTES] {
    const PARALLEL_FROM: usize = 64 << 20;
    if bytes.len() < PARALLEL_FROM {
        checksum(bytes)
    } else {
        checksum_in_halves(bytes)
    }
}

fn checksum_in_halves(bytes: &[u8]) -> [u8; DIGEST_BYTES] {
    let (low, high) = bytes.split_at(bytes.len() / 2);
    let (mut first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| {
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(high);
            hasher
        });
        let mut first = crc32fast::Hasher::new();
        first.update(low);
        (first, second.join().expect("a CRC thread does not panic"))
    });
    first.combine(&second);
    first.finalize().to_le_bytes()
}

/// The bytes of each of `count` unit records that fill `rest` exactly.
fn split_records(mut rest: &[u8], count: u32) -> Result<Vec<&[u8]>, Stale> {
    // The shortest record (an empty code, no partial table, no figure) is 18 bytes: a count the input cannot
    // hold is not allocated for.
    let mut records = Vec::with_capacity((count as usize).min(rest.len() / 18 + 1));
    for _ in 0..count {
        let mut reader = Reader(rest);
        let length = usize::from(reader.u16()?);
        reader.take(length + 8)?;
        let partial_count = reader.u32()?;
        reader.take(partial_count as usize * 4)?;
        let figures = reader.u32()?;
        reader.take(figures as usize * FIGURE_BYTES)?;
        let (record, tail) = rest.split_at(rest.len() - reader.0.len());
        records.push(record);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(Stale::Damaged);
    }
    Ok(records)
}

/// A figure is kept as its cell (4 bytes), its value (8) and its half-ulp code (1).
const FIGURE_BYTES: usize = 13;

fn decode_record(record: &[u8], cells: u64) -> Result<(UnitCode, OwnData), Stale> {
    let mut reader = Reader(record);
    let length = usize::from(reader.u16()?);
    let code = std::str::from_utf8(reader.take(length)?).map_err(|_| Stale::Damaged)?;
    let code = UnitCode::parse(code).map_err(|_| Stale::Damaged)?;
    let version = reader.u32()?;
    let inexact = reader.u32()?;
    let partial_count = reader.u32()?;
    let partial_tables = (0..partial_count)
        .map(|_| reader.u32().map(|t| t as usize))
        .collect::<Result<Vec<_>, _>>()?;
    let figures = reader.u32()? as usize;
    let body = reader.take(figures * FIGURE_BYTES)?;
    let mut ids = Vec::with_capacity(figures);
    let mut values = Vec::with_capacity(figures);
    let mut half_ulps = Vec::with_capacity(figures);
    for figure in body.chunks_exact(FIGURE_BYTES) {
        let id = u32::from_le_bytes(figure[0..4].try_into().expect("4 bytes"));
        if u64::from(id) >= cells {
            return Err(Stale::Damaged);
        }
        ids.push(id);
        values.push(i64::from_le_bytes(
            figure[4..12].try_into().expect("8 bytes"),
        ));
        half_ulps.push(figure[12]);
    }
    let own = OwnData::from_columns(version, ids, values, half_ulps, partial_tables, inexact)
        .ok_or(Stale::Damaged)?;
    Ok((code, own))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::{consolidation::state::Removals, taxonomy::test_support};

    fn year() -> FiscalYear {
        FiscalYear::new(2024).unwrap()
    }

    /// Two units, one with figures (one rounded, one table partial), one without.
    fn state() -> YearState {
        let taxonomy = test_support::year(2024);
        let layout = Arc::new(CellLayout::new(&taxonomy));
        let removals = Arc::new(Removals::new(&layout, taxonomy.eliminations.as_ref()));
        let mut state = YearState::new(layout, removals);
        let a = state.add_node(UnitCode::parse("652300101").unwrap(), None);
        state.add_node(UnitCode::parse("652300102").unwrap(), None);
        state.load_own(
            a,
            Some(OwnData::new(
                3,
                vec![(0, 123_456, 50), (7, -9, 1), (42, 1, 5_000)],
                vec![2],
                1,
            )),
        );
        state
    }

    #[test]
    fn a_snapshot_gives_back_the_figures_it_was_made_of() {
        let state = state();
        let bytes = encode(&state, year(), 17);
        let (owned, layout) = decode(&bytes, year(), 17, &state.layout).unwrap();
        assert_eq!(layout.cells, state.layout.cells);
        assert_eq!(owned.len(), 1);
        let (code, own) = &owned[0];
        assert_eq!(code.as_str(), "652300101");
        let original = state.nodes[0].own.as_ref().unwrap();
        assert_eq!(own.version, 3);
        assert_eq!(own.inexact, 1);
        assert_eq!(own.partial_tables, [2]);
        assert_eq!(
            own.iter_with_half_ulps().collect::<Vec<_>>(),
            original.iter_with_half_ulps().collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_checksum_in_halves_is_the_checksum() {
        let bytes: Vec<u8> = (0..100_003u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert_eq!(checksum_in_halves(&bytes), checksum(&bytes));
        assert_ne!(checksum_in_halves(&bytes[1..]), checksum(&bytes));
    }

    #[test]
    fn a_snapshot_is_refused_when_anything_changed_or_it_is_damaged() {
        let state = state();
        let bytes = encode(&state, year(), 17);
        assert_eq!(
            decode(&bytes, year(), 18, &state.layout).unwrap_err(),
            Stale::Changed { made: 17, now: 18 }
        );
        // A state that catches up may start from it at any later marker, never an earlier one.
        assert_eq!(
            decode_up_to(&bytes, year(), 18, &state.layout).unwrap().0,
            17
        );
        assert_eq!(
            decode_up_to(&bytes, year(), 16, &state.layout).unwrap_err(),
            Stale::Changed { made: 17, now: 16 }
        );
        let other = FiscalYear::new(2025).unwrap();
        assert_eq!(
            decode(&bytes, other, 17, &state.layout).unwrap_err(),
            Stale::OtherYear
        );
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 1;
        assert_eq!(
            decode(&flipped, year(), 17, &state.layout).unwrap_err(),
            Stale::Damaged
        );
        assert_eq!(
            decode(&bytes[..bytes.len() - 1], year(), 17, &state.layout).unwrap_err(),
            Stale::Damaged
        );
        assert_eq!(
            decode(b"", year(), 17, &state.layout).unwrap_err(),
            Stale::Damaged
        );
        // A record whose figures are out of order or zero is damage, even under a correct checksum.
        let mut reordered = encode(&state, year(), 17);
        let first_figure = reordered.len() - DIGEST_BYTES - 3 * FIGURE_BYTES;
        let (first, second) = (first_figure, first_figure + FIGURE_BYTES);
        for i in 0..4 {
            reordered.swap(first + i, second + i);
        }
        let body = reordered.len() - DIGEST_BYTES;
        let digest = checksum(&reordered[..body]);
        reordered[body..].copy_from_slice(&digest);
        assert_eq!(
            decode(&reordered, year(), 17, &state.layout).unwrap_err(),
            Stale::Damaged
        );
        // A taxonomy whose tables differ gives other lines: the snapshot's layout is another.
        let mut other_lines = (*state.layout).clone();
        other_lines.add_code("economic", "301");
        assert_ne!(
            layout_fingerprint(&other_lines),
            layout_fingerprint(&state.layout)
        );
        assert_eq!(
            decode(&bytes, year(), 17, &other_lines).unwrap_err(),
            Stale::OtherLayout
        );
    }

    #[test]
    fn a_snapshot_carries_the_code_rows_its_figures_use() {
        let mut state = state();
        state.grow_layout(&[
            ("functional".into(), "207".into()),
            ("functional".into(), "2070698".into()),
        ]);
        let taxonomy = test_support::year(2024);
        let t05 = taxonomy.table_index("T05").unwrap();
        let cell = state.layout.id(t05, "2070698", 0).unwrap();
        state.load_own(
            1,
            Some(OwnData::new(1, vec![(cell, 500, 50)], Vec::new(), 0)),
        );
        let bytes = encode(&state, year(), 9);
        // Read against the taxonomy's lines alone, it numbers the code rows as the state did.
        let base = CellLayout::new(&taxonomy);
        let (owned, layout) = decode(&bytes, year(), 9, &base).unwrap();
        assert_eq!(layout.id(t05, "2070698", 0), Some(cell));
        assert!(owned.iter().any(|(_, own)| own.get(cell) == 500));
    }
}
