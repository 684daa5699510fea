//! Reading a whole object from a remote as a stream, without storing it (`dvx cat` of a
//! file whose bytes are not local).
//!
//! Owns: [`ObjectReader`], a blocking [`Read`] over a packed object (read and verified
//! whole before the first byte is handed out) or a large object (its seek table read
//! and checked against the id first, then frame batches fetched one GET at a time as
//! the reader asks, each frame checked against its chaining value before any of its
//! bytes are handed out). Memory stays bounded by one batch whatever the object's size.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use super::backend::Backend;
use super::large::SeekTable;
use super::transfer::{self, Counters, TransferStats};
use crate::hash::ObjectId;

/// A verified stream of one object's bytes from a remote.
pub struct ObjectReader {
    /// Bytes fetched and verified, not handed out yet.
    buffer: Vec<u8>,
    at: usize,
    large: Option<Large>,
}

/// What a large object's reader needs to fetch its next batch.
struct Large {
    runtime: &'static tokio::runtime::Runtime,
    backend: Backend,
    id: ObjectId,
    table: Arc<SeekTable>,
    /// The first frame not fetched yet.
    next: usize,
    /// The remote's running totals, which every batch adds to.
    tally: Arc<Mutex<TransferStats>>,
}

impl ObjectReader {
    /// A reader of bytes already fetched and verified.
    pub(crate) fn whole(raw: Vec<u8>) -> ObjectReader {
        ObjectReader {
            buffer: raw,
            at: 0,
            large: None,
        }
    }

    /// A reader of a large object whose seek table (checked against `id`) is `table`.
    pub(crate) fn large(
        runtime: &'static tokio::runtime::Runtime,
        backend: Backend,
        id: ObjectId,
        table: SeekTable,
        tally: Arc<Mutex<TransferStats>>,
    ) -> ObjectReader {
        ObjectReader {
            buffer: Vec::new(),
            at: 0,
            large: Some(Large {
                runtime,
                backend,
                id,
                table: Arc::new(table),
                next: 0,
                tally,
            }),
        }
    }

    /// Fetch the next batch of frames into the buffer; `false` at the end.
    fn refill(&mut self) -> io::Result<bool> {
        let Some(large) = &mut self.large else {
            return Ok(false);
        };
        let count = large.table.frames().len();
        if large.next >= count {
            return Ok(false);
        }
        let end = transfer::download::batch_end(&large.table, large.next);
        let start = std::time::Instant::now();
        let counters = Counters::default();
        let got = large.runtime.block_on(transfer::download::frames(
            &large.backend,
            large.id,
            Arc::clone(&large.table),
            large.next..end,
            &counters,
        ));
        large
            .tally
            .lock()
            .expect("tally lock")
            .add(&counters.stats(0, start));
        // A frame that fails its check is an error naming the object, never served.
        self.buffer = got.map_err(io::Error::other)?;
        self.at = 0;
        large.next = end;
        Ok(true)
    }
}

impl Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.buffer.len() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buffer.len() - self.at);
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
