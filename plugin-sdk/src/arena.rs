//! A call arena: the global allocator for plugins whose work is one short call.
//!
//! The host runs every hook call in a fresh instance and throws the instance away after it, so
//! nothing a call allocates outlives the call. Small allocations can then be a pointer bump into
//! large chunks, and freeing them nothing at all: the general-purpose allocator's bookkeeping
//! (and, after the call, freeing every string of the result one by one) is work the discarded
//! instance never needed. Large blocks (the input document, big lists) still go to the system
//! allocator, which reuses them, so a call's memory stays proportional to what it holds rather
//! than to everything it ever allocated.
//!
//! A plugin opts in with one line; it suits plugins whose calls build and return data (a
//! connector reading a document), and the system allocator stays the default for the rest:
//!
//! ```ignore
//! #[cfg(target_arch = "wasm32")]
//! #[global_allocator]
//! static ALLOCATOR: ipra_plugin_sdk::arena::CallArena = ipra_plugin_sdk::arena::CallArena::new();
//! ```
//!
//! [`CallArena`] exists for `wasm32` without threads only (a component instance has one thread);
//! the bump logic itself, [`Arena`], is plain code tested natively.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::ptr;

/// Blocks of at least this size go to the chunk source directly (and are freed there).
pub const LARGE: usize = 32 << 10;
/// Size of the chunks small blocks are carved from.
pub const CHUNK: usize = 256 << 10;
/// Alignment above which a block is treated as large (chunks are aligned to this).
const MAX_SMALL_ALIGN: usize = 16;

/// Bump allocation of small blocks over chunks taken from `S`; large blocks are passed to `S`.
pub struct Arena<S> {
    source: S,
    /// Next free byte of the current chunk (0 before the first chunk).
    next: Cell<usize>,
    /// End of the current chunk.
    end: Cell<usize>,
    /// Start of the most recent small block, which may still grow or be given back in place.
    last: Cell<usize>,
}

impl<S: GlobalAlloc> Arena<S> {
    pub const fn with_source(source: S) -> Self {
        Arena {
            source,
            next: Cell::new(0),
            end: Cell::new(0),
            last: Cell::new(usize::MAX),
        }
    }

    fn is_small(size: usize, align: usize) -> bool {
        size < LARGE && align <= MAX_SMALL_ALIGN
    }

    #[inline]
    fn bump(&self, layout: Layout) -> *mut u8 {
        let start = (self.next.get() + layout.align() - 1) & !(layout.align() - 1);
        let end = start + layout.size();
        if self.next.get() != 0 && end <= self.end.get() {
            self.next.set(end);
            self.last.set(start);
            return start as *mut u8;
        }
        self.refill(layout)
    }

    #[cold]
    #[inline(never)]
    fn refill(&self, layout: Layout) -> *mut u8 {
        // SAFETY: CHUNK and MAX_SMALL_ALIGN are a valid, non-zero layout.
        let chunk = unsafe {
            self.source
                .alloc(Layout::from_size_align_unchecked(CHUNK, MAX_SMALL_ALIGN))
        };
        if chunk.is_null() {
            return chunk;
        }
        // The rest of the old chunk is left unused: it goes with the instance.
        self.next.set(chunk as usize);
        self.end.set(chunk as usize + CHUNK);
        // A small block (size < LARGE ≤ CHUNK, alignment ≤ the chunk's) fits a fresh chunk.
        self.bump(layout)
    }
}

// SAFETY: small blocks are carved from chunks of `source` that are never given back, so they stay
// valid and disjoint until the arena goes (with the instance); large blocks are `source`'s own.
unsafe impl<S: GlobalAlloc> GlobalAlloc for Arena<S> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::is_small(layout.size(), layout.align()) {
            self.bump(layout)
        } else {
            // SAFETY: the caller's layout, passed on.
            unsafe { self.source.alloc(layout) }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !Self::is_small(layout.size(), layout.align()) {
            // SAFETY: a large block comes from `source` with this layout.
            unsafe { self.source.dealloc(ptr, layout) };
        } else if ptr as usize == self.last.get() {
            // The most recent block given back (a temporary string, a failed attempt): its room is
            // used again. Any other small block is left as it is.
            self.next.set(ptr as usize);
            self.last.set(usize::MAX);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        let (old_small, new_small) = (Self::is_small(layout.size(), align), Self::is_small(new_size, align));
        if old_small && new_small {
            // The most recent block (a growing string or vector) grows or shrinks where it is.
            if ptr as usize == self.last.get() && ptr as usize + new_size <= self.end.get() {
                self.next.set(ptr as usize + new_size);
                return ptr;
            }
            if new_size <= layout.size() {
                return ptr;
            }
        } else if !old_small && !new_small {
            // SAFETY: a large block of `source`, grown or shrunk by it.
            return unsafe { self.source.realloc(ptr, layout, new_size) };
        }
        // SAFETY: `new_size` with the old alignment is a valid layout (the caller's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
        // SAFETY: as `alloc`.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and do not overlap (a new small
            // block starts at or after the arena's next free byte, past every older block).
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

/// The call arena over the system allocator, for a plugin's `#[global_allocator]`.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub struct CallArena(Arena<std::alloc::System>);

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
impl CallArena {
    pub const fn new() -> Self {
        CallArena(Arena::with_source(std::alloc::System))
    }
}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
impl Default for CallArena {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: without the atomics feature a wasm32 instance has exactly one thread, so the arena's
// cells are never touched from two threads.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for CallArena {}

// SAFETY: delegates to the arena (see there).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl GlobalAlloc for CallArena {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { self.0.alloc(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The system allocator, counting what it is asked for.
    #[derive(Default)]
    struct Counting {
        chunks: AtomicUsize,
        large: AtomicUsize,
        freed: AtomicUsize,
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.size() == CHUNK {
                self.chunks.fetch_add(1, Ordering::Relaxed);
            } else {
                self.large.fetch_add(1, Ordering::Relaxed);
            }
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            self.freed.fetch_add(1, Ordering::Relaxed);
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn small_blocks_are_aligned_disjoint_and_keep_their_bytes() {
        let arena = Arena::with_source(Counting::default());
        let mut blocks = Vec::new();
        for i in 0..20_000usize {
            let (size, align) = (1 + i % 97, 1 << (i % 5));
            let ptr = unsafe { arena.alloc(layout(size, align)) };
            assert!(!ptr.is_null());
            assert_eq!(ptr as usize % align, 0);
            unsafe { ptr::write_bytes(ptr, (i % 251) as u8, size) };
            blocks.push((ptr, size, i));
        }
        for (ptr, size, i) in &blocks {
            let bytes = unsafe { std::slice::from_raw_parts(*ptr, *size) };
            assert!(bytes.iter().all(|b| *b == (i % 251) as u8), "block {i} overwritten");
        }
        // About a megabyte of small blocks: a handful of chunks, nothing large, nothing freed.
        let source = &arena.source;
        assert!((4..=8).contains(&source.chunks.load(Ordering::Relaxed)));
        assert_eq!(source.large.load(Ordering::Relaxed), 0);
        for (ptr, size, _) in blocks {
            unsafe { arena.dealloc(ptr, layout(size, 1)) };
        }
        assert_eq!(source.freed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_latest_block_grows_in_place_and_is_given_back() {
        let arena = Arena::with_source(Counting::default());
        let first = unsafe { arena.alloc(layout(8, 8)) };
        let grown = unsafe { arena.realloc(first, layout(8, 8), 4000) };
        assert_eq!(first, grown, "the most recent block grows where it is");
        let second = unsafe { arena.alloc(layout(16, 8)) };
        assert_eq!(second as usize, first as usize + 4000);
        unsafe { arena.dealloc(second, layout(16, 8)) };
        let third = unsafe { arena.alloc(layout(16, 8)) };
        assert_eq!(third, second, "the most recent block given back is used again");
    }

    #[test]
    fn an_older_block_moves_with_its_bytes_and_large_ones_go_to_the_source() {
        let arena = Arena::with_source(Counting::default());
        let old = unsafe { arena.alloc(layout(64, 8)) };
        unsafe { ptr::copy_nonoverlapping([7u8; 64].as_ptr(), old, 64) };
        let _newer = unsafe { arena.alloc(layout(8, 8)) };
        let moved = unsafe { arena.realloc(old, layout(64, 8), 1000) };
        assert_ne!(moved, old);
        assert_eq!(unsafe { std::slice::from_raw_parts(moved, 64) }, &[7u8; 64]);

        // Crossing into a large block: copied into the source's block; back down: into the arena.
        let large = unsafe { arena.realloc(moved, layout(1000, 8), LARGE * 2) };
        assert_eq!(arena.source.large.load(Ordering::Relaxed), 1);
        assert_eq!(unsafe { std::slice::from_raw_parts(large, 64) }, &[7u8; 64]);
        let small = unsafe { arena.realloc(large, layout(LARGE * 2, 8), 100) };
        assert_eq!(
            arena.source.freed.load(Ordering::Relaxed),
            1,
            "the large block went back"
        );
        assert_eq!(unsafe { std::slice::from_raw_parts(small, 64) }, &[7u8; 64]);

        // Over-aligned blocks are the source's too.
        let page = unsafe { arena.alloc(layout(64, 4096)) };
        assert_eq!(page as usize % 4096, 0);
        unsafe { arena.dealloc(page, layout(64, 4096)) };
        assert_eq!(arena.source.freed.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn blocks_of_every_size_through_vectors_and_strings() {
        // The arena as a collection's allocator would use it: growth by doubling, shrinking, freeing.
        let arena = Arena::with_source(Counting::default());
        let mut vectors: Vec<(*mut u8, usize)> = Vec::new();
        for round in 0..200usize {
            let mut ptr = unsafe { arena.alloc(layout(4, 4)) };
            let mut size = 4;
            let target = 1 + (round * 613) % (LARGE * 3);
            while size < target {
                let new_size = (size * 2).min(target.max(size + 1));
                ptr = unsafe { arena.realloc(ptr, layout(size, 4), new_size) };
                unsafe { ptr::write_bytes(ptr.add(size), round as u8, new_size - size) };
                size = new_size;
            }
            vectors.push((ptr, size));
        }
        for (ptr, size) in vectors {
            unsafe { arena.dealloc(ptr, layout(size, 4)) };
        }
    }
}
