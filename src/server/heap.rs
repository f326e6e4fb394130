//! Keeps the buffers of large requests in the heap from one request to the next.
//!
//! glibc's allocator maps a block of 128 KiB or more afresh and unmaps it when it is freed, and
//! gives the free top of a heap back to the kernel once it passes 128 KiB. A 128 KiB request
//! passes through several such buffers (actix-http grows its read buffer to the body's size, the
//! body is gathered, awc copies it into its write buffer), so each of them came from pages the
//! kernel had to fault in and zero again: three to ten page faults per request for a client that
//! sends them one at a time, head and body in one write (as Node's `fetch` does).
//!
//! Both thresholds move up on their own: when a mapped block is freed, glibc raises the mapping
//! threshold to its size and the trimming threshold to twice that (`mallopt(3)`, "dynamic mmap
//! threshold"). One block of [`BLOCK`] allocated and freed at start-up moves them at once, so
//! such buffers are served from the heap and stay there, without a line of `unsafe` code or a
//! setting the user has to know about. The block itself is given back at once (only its first
//! page is touched); what it costs is that a heap may keep up to twice [`BLOCK`] free at its top
//! instead of giving it back. Thresholds set explicitly
//! (`GLIBC_TUNABLES=glibc.malloc.mmap_threshold=…`) turn the adjustment off and are left as they
//! are. Other allocators are unaffected.

/// The block's size: the largest buffer that stays in the heap (the translated body's own buffer
/// is kept by its thread, up to 4 MiB, whatever the allocator does).
const BLOCK: usize = 1 << 20;

/// Allocates and frees one block of [`BLOCK`] bytes. Call it once, at start-up.
pub fn keep_large_buffers() {
    let block: Vec<u8> = Vec::with_capacity(BLOCK);
    // Opaque to the optimizer: an allocation nothing reads would otherwise be left out.
    drop(std::hint::black_box(block));
}
