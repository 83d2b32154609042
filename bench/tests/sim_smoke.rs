//! `o7s-bench lsr` and `o7s-bench dht` on small layers: they end with one
//! line of JSON whose figures hold the properties the benchmarks check
//! (loop-free routes, every name found within log2(n) + 2 hops). Virtual
//! time: nothing here depends on the machine's speed but the SPF timing,
//! which is only checked to be there.

mod common;

#[test]
fn lsr_converges_and_routes_loop_free_and_ends_with_json() {
    let (stdout, json) = common::run(&["lsr", "--nodes", "10,60", "--runs", "3"]);
    let rows = json["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{stdout}");
    for r in rows {
        assert_eq!(r["loop_free"].as_bool(), Some(true), "{r}");
        assert!(r["lsm_messages"].as_u64().is_some_and(|n| n > 0), "{r}");
        assert!(r["spf_lfa_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{r}");
        let cover = r["lfa_coverage_pct"].as_f64().unwrap_or(-1.0);
        assert!((0.0..=100.0).contains(&cover), "{r}");
    }
}

#[test]
fn dht_finds_every_name_within_the_hop_bound_and_ends_with_json() {
    let (stdout, json) = common::run(&["dht", "--nodes", "10,80", "--queries", "200"]);
    let rows = json["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{stdout}");
    for r in rows {
        assert_eq!(r["found"], r["queries"], "{r}");
        assert!(r["hops_max"].as_u64() <= r["hops_bound"].as_u64(), "{r}");
    }
}
