//! The pool is on 2 MiB hugepages when the system has them free, as the
//! kernel sees it: the pool's mapping in `/proc/self/smaps` has a 2 MiB
//! kernel page size, the hugetlb flag, and every page committed. Not only
//! `Pool::pages`, which says what the pool asked for.
//!
//! Without free 2 MiB hugepages the hugepage test is skipped with a
//! message, or fails when `O7S_REQUIRE_PRIVILEGED_TESTS` is set:
//! `scripts/test` reserves 128 first (as root), so there a skip would hide
//! a machine that silently runs the dataplane on 4 KiB pages.

use o7s_mem::{Backing, PageKind, Pool, PoolConfig};

/// Free 2 MiB hugepages, whatever the default hugepage size is.
const FREE_2M: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages";

/// 1024 buffers of 2 KiB and the control structures: two hugepages
/// with today's layout.
const BUFFERS: u32 = 1024;
const HUGEPAGES_NEEDED: u64 = 2;

/// What smaps says about one mapping.
#[derive(Debug, Default)]
struct Vma {
    size_kb: u64,
    kernel_page_kb: u64,
    hugetlb_kb: u64,
    flags: Vec<String>,
}

/// This process's mappings of the memfd called `name`.
fn mappings_of(name: &str) -> Vec<Vma> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("/proc/self/smaps");
    let path = format!("/memfd:{name} (deleted)");
    let mut found = Vec::new();
    let mut current: Option<Vma> = None;
    for line in smaps.lines() {
        let kb = |value: &str| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .expect("a size in kB")
        };
        // A mapping's lines start with a "Field:" name; its header with
        // an address range.
        match line.split_once(':') {
            Some(("Size", v)) => current.iter_mut().for_each(|vma| vma.size_kb = kb(v)),
            Some(("KernelPageSize", v)) => current.iter_mut().for_each(|vma| vma.kernel_page_kb = kb(v)),
            Some(("Shared_Hugetlb" | "Private_Hugetlb", v)) => {
                current.iter_mut().for_each(|vma| vma.hugetlb_kb += kb(v));
            }
            Some(("VmFlags", v)) => {
                current
                    .iter_mut()
                    .for_each(|vma| vma.flags = v.split_whitespace().map(str::to_owned).collect());
            }
            Some((field, _)) if !field.contains(' ') && !field.contains('-') => {}
            _ => {
                found.extend(current.take());
                current = line.trim_end().ends_with(&path).then(Vma::default);
            }
        }
    }
    found.extend(current);
    found
}

fn free_hugepages() -> u64 {
    std::fs::read_to_string(FREE_2M)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn config(backing: Backing) -> PoolConfig {
    PoolConfig {
        count: BUFFERS,
        backing,
        ..PoolConfig::default()
    }
}

#[test]
fn a_pool_is_on_2_mib_hugepages_when_they_are_free() {
    const TEST: &str = "a_pool_is_on_2_mib_hugepages_when_they_are_free";
    let free = free_hugepages();
    if free < HUGEPAGES_NEEDED {
        o7s_netns::skip_or_fail(
            TEST,
            &format!(
                "needs {HUGEPAGES_NEEDED} free 2 MiB hugepages, {FREE_2M} says {free} \
                 (as root: echo 128 > /proc/sys/vm/nr_hugepages)"
            ),
        );
        return;
    }
    let name = format!("o7s-test-huge-{}", std::process::id());
    // The default backing, as the dataplane and irmd create theirs.
    let pool = Pool::create(&name, config(Backing::Auto)).expect("pool");
    assert_eq!(
        pool.pages(),
        PageKind::Huge2M,
        "{free} hugepages were free, yet the pool is on {} (now free: {})",
        pool.pages(),
        free_hugepages()
    );

    let vmas = mappings_of(&name);
    assert_eq!(vmas.len(), 1, "one mapping of memfd {name}: {vmas:?}");
    let vma = &vmas[0];
    assert_eq!(vma.kernel_page_kb, 2048, "the kernel's page size for the pool: {vma:?}");
    assert!(vma.flags.iter().any(|f| f == "ht"), "a hugetlb mapping: {vma:?}");
    assert!(
        vma.size_kb.is_multiple_of(2048) && vma.size_kb >= u64::from(BUFFERS) * 2,
        "whole hugepages holding the buffers: {vma:?}"
    );
    assert_eq!(
        vma.hugetlb_kb, vma.size_kb,
        "every hugepage committed when the pool is created: {vma:?}"
    );

    // A process attaching the pool learns its page size from the fd and
    // maps it on hugepages as well.
    let attached = Pool::attach(pool.fd().try_clone_to_owned().expect("fd")).expect("attach");
    assert_eq!(attached.pages(), PageKind::Huge2M);
    let vmas = mappings_of(&name);
    assert_eq!(vmas.len(), 2, "the creator's and the attached mapping: {vmas:?}");
    assert!(vmas.iter().all(|vma| vma.kernel_page_kb == 2048), "{vmas:?}");
}

#[test]
fn a_base_page_pool_is_on_4_kib_pages() {
    // The other side of the check above, which it would pass vacuously if
    // smaps were misread.
    let name = format!("o7s-test-base-{}", std::process::id());
    let pool = Pool::create(&name, config(Backing::Base)).expect("pool");
    assert_eq!(pool.pages(), PageKind::Base4K);
    let vmas = mappings_of(&name);
    assert_eq!(vmas.len(), 1, "one mapping of memfd {name}: {vmas:?}");
    assert_eq!(vmas[0].kernel_page_kb, 4, "{vmas:?}");
    assert!(!vmas[0].flags.iter().any(|f| f == "ht"), "{vmas:?}");
    assert_eq!(vmas[0].hugetlb_kb, 0, "{vmas:?}");
}
