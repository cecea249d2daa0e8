//! Table-driven tests of build plan resolution.
//!
//! Each case is derived from a rule of the [buildpack spec, Phase #1: Detection](https://github.com/buildpacks/spec/blob/main/buildpack.md#phase-1-detection)
//! or from the reference lifecycle's `phase/detector.go` where the spec leaves the detail
//! open. Every case runs even when an earlier one fails, and a failure lists each failing
//! case by name with what was expected and what `resolve` returned.
//!
//! Within one buildpack the expected plan entries are ordered by dependency name, then by
//! the order of the requiring buildpacks: the spec leaves this order open (the lifecycle
//! iterates a Go map), `resolve` makes it deterministic.

use super::*;

/// One pairing of provides and requires; a require is `(name, metadata as TOML)`.
struct Opt {
    provides: &'static [&'static str],
    requires: &'static [(&'static str, &'static str)],
}

/// A buildpack that passed detect: its top-level pairing first, then its `or` alternatives.
struct Bp {
    id: &'static str,
    optional: bool,
    options: &'static [Opt],
}

/// A buildpack of the resolved group with its plan entries `(name, metadata as TOML)`.
type Member = (&'static str, &'static [(&'static str, &'static str)]);

struct Case {
    name: &'static str,
    candidates: &'static [Bp],
    /// `None`: no trial resolves. `Some`: the buildpacks that stay, in order.
    expect: Option<&'static [Member]>,
}

const EMPTY: Opt = Opt { provides: &[], requires: &[] };
const UNUSED_PROVIDE: Opt = Opt { provides: &["unused"], requires: &[] };
/// Nine alternatives that fail (a required buildpack providing what nobody requires), then one that passes.
const NINE_FAILING_THEN_EMPTY: &[Opt] = &[
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    EMPTY,
];
const TEN_FAILING: &[Opt] = &[
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
    UNUSED_PROVIDE,
];
const FAILING_THEN_EMPTY: &[Opt] = &[UNUSED_PROVIDE, EMPTY];

const NESTED_METADATA: &str = r#"
version = "1.2.3"
launch = true
extras = ["a", "b"]
[nested]
key = 1
deeper = { flag = false }
"#;

const CASES: &[Case] = &[
    // --- empty plans -------------------------------------------------------------------
    Case { name: "no_buildpacks_resolves_to_none", candidates: &[], expect: None },
    Case {
        name: "one_buildpack_with_an_empty_plan_stays",
        candidates: &[Bp { id: "a", optional: false, options: &[EMPTY] }],
        expect: Some(&[("a", &[])]),
    },
    Case {
        name: "no_options_at_all_counts_as_an_empty_plan",
        candidates: &[Bp { id: "a", optional: false, options: &[] }],
        expect: Some(&[("a", &[])]),
    },
    Case {
        name: "empty_plans_keep_every_buildpack_in_order",
        candidates: &[
            Bp { id: "a", optional: false, options: &[EMPTY] },
            Bp { id: "b", optional: true, options: &[EMPTY] },
            Bp { id: "c", optional: false, options: &[EMPTY] },
        ],
        expect: Some(&[("a", &[]), ("b", &[]), ("c", &[])]),
    },
    // --- provides and requires -----------------------------------------------------------
    Case {
        name: "provide_and_require_in_the_same_buildpack",
        candidates: &[Bp {
            id: "node",
            optional: false,
            options: &[Opt { provides: &["node"], requires: &[("node", r#"version = "18""#)] }],
        }],
        expect: Some(&[("node", &[("node", r#"version = "18""#)])]),
    },
    Case {
        name: "earlier_provider_receives_a_later_require",
        candidates: &[
            Bp { id: "node", optional: false, options: &[Opt { provides: &["node"], requires: &[] }] },
            Bp { id: "npm", optional: false, options: &[Opt { provides: &[], requires: &[("node", r#"version = "18""#)] }] },
        ],
        expect: Some(&[("node", &[("node", r#"version = "18""#)]), ("npm", &[])]),
    },
    Case {
        name: "require_before_provide_fails_a_required_requirer",
        candidates: &[
            Bp { id: "npm", optional: false, options: &[Opt { provides: &[], requires: &[("node", "")] }] },
            Bp { id: "node", optional: false, options: &[Opt { provides: &["node"], requires: &[("node", "")] }] },
        ],
        expect: None,
    },
    Case {
        name: "require_before_provide_drops_an_optional_requirer_and_its_require",
        candidates: &[
            Bp { id: "npm", optional: true, options: &[Opt { provides: &[], requires: &[("node", r#"version = "16""#)] }] },
            Bp { id: "node", optional: false, options: &[Opt { provides: &["node"], requires: &[("node", r#"version = "18""#)] }] },
        ],
        expect: Some(&[("node", &[("node", r#"version = "18""#)])]),
    },
    Case {
        name: "provide_nobody_requires_fails_a_required_provider",
        candidates: &[
            Bp { id: "node", optional: false, options: &[Opt { provides: &["node"], requires: &[] }] },
            Bp { id: "web", optional: false, options: &[EMPTY] },
        ],
        expect: None,
    },
    Case {
        name: "provide_nobody_requires_drops_an_optional_provider",
        candidates: &[
            Bp { id: "node", optional: true, options: &[Opt { provides: &["node"], requires: &[] }] },
            Bp { id: "web", optional: false, options: &[EMPTY] },
        ],
        expect: Some(&[("web", &[])]),
    },
    Case {
        name: "provider_after_the_requirer_fails_when_required",
        candidates: &[
            Bp { id: "a", optional: false, options: &[Opt { provides: &["x"], requires: &[] }] },
            Bp { id: "b", optional: false, options: &[Opt { provides: &[], requires: &[("x", "")] }] },
            Bp { id: "c", optional: false, options: &[Opt { provides: &["x"], requires: &[] }] },
        ],
        expect: None,
    },
    Case {
        name: "provider_after_the_requirer_is_dropped_when_optional",
        candidates: &[
            Bp { id: "a", optional: false, options: &[Opt { provides: &["x"], requires: &[] }] },
            Bp { id: "b", optional: false, options: &[Opt { provides: &[], requires: &[("x", "n = 1")] }] },
            Bp { id: "c", optional: true, options: &[Opt { provides: &["x"], requires: &[] }] },
        ],
        expect: Some(&[("a", &[("x", "n = 1")]), ("b", &[])]),
    },
    Case {
        name: "chain_of_provides_and_requires",
        candidates: &[
            Bp { id: "jdk", optional: false, options: &[Opt { provides: &["jdk"], requires: &[] }] },
            Bp { id: "maven", optional: false, options: &[Opt { provides: &["jar"], requires: &[("jdk", "v = 17")] }] },
            Bp { id: "run", optional: false, options: &[Opt { provides: &[], requires: &[("jar", "")] }] },
        ],
        expect: Some(&[("jdk", &[("jdk", "v = 17")]), ("maven", &[("jar", "")]), ("run", &[])]),
    },
    // --- `or` alternatives ---------------------------------------------------------------
    Case {
        name: "second_alternative_used_when_the_first_fails",
        candidates: &[Bp {
            id: "jdk",
            optional: false,
            options: &[Opt { provides: &[], requires: &[("jdk", "v = 21")] }, Opt { provides: &["jdk"], requires: &[("jdk", "v = 17")] }],
        }],
        expect: Some(&[("jdk", &[("jdk", "v = 17")])]),
    },
    Case {
        name: "first_alternative_that_resolves_wins",
        candidates: &[Bp {
            id: "jdk",
            optional: false,
            options: &[
                Opt { provides: &["jdk"], requires: &[("jdk", "v = 21")] },
                Opt { provides: &["jdk"], requires: &[("jdk", "v = 17")] },
            ],
        }],
        expect: Some(&[("jdk", &[("jdk", "v = 21")])]),
    },
    Case {
        // Trials: (a1,b1) fails; depth first, b varies next: (a1,b2) resolves. Were the
        // first buildpack to vary fastest, (a2,b1) would come second and `a` would get `y`.
        name: "alternatives_of_the_last_buildpack_vary_fastest",
        candidates: &[
            Bp { id: "a", optional: false, options: &[Opt { provides: &["x"], requires: &[] }, Opt { provides: &["y"], requires: &[] }] },
            Bp {
                id: "b",
                optional: false,
                options: &[
                    Opt { provides: &[], requires: &[("y", r#"pick = "b1""#)] },
                    Opt { provides: &[], requires: &[("x", r#"pick = "b2""#)] },
                ],
            },
        ],
        expect: Some(&[("a", &[("x", r#"pick = "b2""#)]), ("b", &[])]),
    },
    Case {
        name: "every_trial_failing_resolves_to_none",
        candidates: &[
            Bp { id: "a", optional: false, options: &[Opt { provides: &["x"], requires: &[] }, Opt { provides: &["y"], requires: &[] }] },
            Bp {
                id: "b",
                optional: false,
                options: &[Opt { provides: &[], requires: &[("z", "")] }, Opt { provides: &[], requires: &[("w", "")] }],
            },
        ],
        expect: None,
    },
    Case {
        // The lifecycle (detector.go `options()`) treats an element as optional only for its
        // LAST alternative, so an optional buildpack's earlier alternatives are tried as if
        // required, and the buildpack stays with the first alternative that resolves.
        name: "optional_buildpack_keeps_its_working_or_alternative",
        candidates: &[
            Bp {
                id: "a",
                optional: true,
                options: &[Opt { provides: &[], requires: &[("missing", "")] }, Opt { provides: &["x"], requires: &[("x", "v = 1")] }],
            },
            Bp { id: "b", optional: false, options: &[EMPTY] },
        ],
        expect: Some(&[("a", &[("x", "v = 1")]), ("b", &[])]),
    },
    Case {
        name: "optional_buildpack_with_no_working_alternative_is_dropped",
        candidates: &[
            Bp { id: "a", optional: true, options: &[Opt { provides: &["q"], requires: &[] }, Opt { provides: &["r"], requires: &[] }] },
            Bp { id: "b", optional: false, options: &[EMPTY] },
        ],
        expect: Some(&[("b", &[])]),
    },
    // --- several requirers and providers of one name -------------------------------------
    Case {
        name: "two_requirers_both_reach_the_provider_with_their_metadata",
        candidates: &[
            Bp { id: "node", optional: false, options: &[Opt { provides: &["node"], requires: &[] }] },
            Bp { id: "npm", optional: false, options: &[Opt { provides: &[], requires: &[("node", r#"version = "18""#)] }] },
            Bp { id: "yarn", optional: false, options: &[Opt { provides: &[], requires: &[("node", r#"version = "20""#)] }] },
        ],
        expect: Some(&[("node", &[("node", r#"version = "18""#), ("node", r#"version = "20""#)]), ("npm", &[]), ("yarn", &[])]),
    },
    Case {
        name: "two_providers_both_receive_the_entry",
        candidates: &[
            Bp { id: "a", optional: false, options: &[Opt { provides: &["node"], requires: &[] }] },
            Bp { id: "b", optional: false, options: &[Opt { provides: &["node"], requires: &[] }] },
            Bp { id: "c", optional: false, options: &[Opt { provides: &[], requires: &[("node", "v = 18")] }] },
        ],
        expect: Some(&[("a", &[("node", "v = 18")]), ("b", &[("node", "v = 18")]), ("c", &[])]),
    },
    Case {
        // detector.go: a require adopts every provider so far; a later provider followed
        // by a later require joins the same entry, which then holds both requires.
        name: "provide_again_before_a_later_require_shares_both_requires",
        candidates: &[
            Bp { id: "a", optional: false, options: &[Opt { provides: &["x"], requires: &[] }] },
            Bp { id: "b", optional: false, options: &[Opt { provides: &[], requires: &[("x", "n = 1")] }] },
            Bp { id: "c", optional: false, options: &[Opt { provides: &["x"], requires: &[] }] },
            Bp { id: "d", optional: false, options: &[Opt { provides: &[], requires: &[("x", "n = 2")] }] },
        ],
        expect: Some(&[("a", &[("x", "n = 1"), ("x", "n = 2")]), ("b", &[]), ("c", &[("x", "n = 1"), ("x", "n = 2")]), ("d", &[])]),
    },
    Case {
        name: "entries_are_ordered_by_name_then_by_requirer",
        candidates: &[
            Bp { id: "a", optional: false, options: &[Opt { provides: &["npm", "node"], requires: &[] }] },
            Bp {
                id: "b",
                optional: false,
                options: &[Opt { provides: &[], requires: &[("npm", r#"by = "b""#), ("node", r#"by = "b""#)] }],
            },
            Bp { id: "c", optional: false, options: &[Opt { provides: &[], requires: &[("node", r#"by = "c""#)] }] },
        ],
        expect: Some(&[("a", &[("node", r#"by = "b""#), ("node", r#"by = "c""#), ("npm", r#"by = "b""#)]), ("b", &[]), ("c", &[])]),
    },
    // --- dropping optional buildpacks ----------------------------------------------------
    Case {
        name: "dropped_optional_requirer_takes_its_require_along",
        candidates: &[
            Bp { id: "a", optional: false, options: &[Opt { provides: &["x"], requires: &[] }] },
            Bp { id: "b", optional: false, options: &[Opt { provides: &[], requires: &[("x", "n = 1")] }] },
            Bp { id: "c", optional: true, options: &[Opt { provides: &[], requires: &[("x", "n = 2"), ("missing", "")] }] },
        ],
        expect: Some(&[("a", &[("x", "n = 1")]), ("b", &[])]),
    },
    Case {
        // Round 1 drops b (requires `missing`); round 2 drops a (its `x` is now unused).
        name: "dropping_an_optional_requirer_cascades_to_an_optional_provider",
        candidates: &[
            Bp { id: "a", optional: true, options: &[Opt { provides: &["x"], requires: &[] }] },
            Bp { id: "b", optional: true, options: &[Opt { provides: &[], requires: &[("x", ""), ("missing", "")] }] },
            Bp { id: "c", optional: false, options: &[EMPTY] },
        ],
        expect: Some(&[("c", &[])]),
    },
    Case {
        // Round 1 drops a (requires `missing`); round 2 drops b (its `x` has no provider now).
        name: "dropping_an_optional_provider_cascades_to_an_optional_requirer",
        candidates: &[
            Bp { id: "a", optional: true, options: &[Opt { provides: &["x"], requires: &[("missing", "")] }] },
            Bp { id: "b", optional: true, options: &[Opt { provides: &[], requires: &[("x", "")] }] },
            Bp { id: "c", optional: false, options: &[EMPTY] },
        ],
        expect: Some(&[("c", &[])]),
    },
    Case {
        name: "cascade_reaching_a_required_buildpack_fails",
        candidates: &[
            Bp { id: "a", optional: false, options: &[Opt { provides: &["x"], requires: &[] }] },
            Bp { id: "b", optional: true, options: &[Opt { provides: &[], requires: &[("x", ""), ("missing", "")] }] },
        ],
        expect: None,
    },
    Case {
        name: "every_buildpack_optional_and_dropped_resolves_to_none",
        candidates: &[
            Bp { id: "a", optional: true, options: &[Opt { provides: &[], requires: &[("x", "")] }] },
            Bp { id: "b", optional: true, options: &[Opt { provides: &["y"], requires: &[] }] },
        ],
        expect: None,
    },
    // --- metadata ------------------------------------------------------------------------
    Case {
        name: "require_metadata_is_passed_through_unchanged",
        candidates: &[Bp { id: "a", optional: false, options: &[Opt { provides: &["x"], requires: &[("x", NESTED_METADATA)] }] }],
        expect: Some(&[("a", &[("x", NESTED_METADATA)])]),
    },
    Case {
        name: "require_without_metadata_gives_an_empty_table",
        candidates: &[Bp { id: "a", optional: false, options: &[Opt { provides: &["x"], requires: &[("x", "")] }] }],
        expect: Some(&[("a", &[("x", "")])]),
    },
    // --- the trial cap (MAX_TRIALS = 10_000 = 10^4) ---------------------------------------
    Case {
        // 10^4 trials; only the very last one (every buildpack on its last option) resolves.
        name: "success_at_trial_max_trials_is_found",
        candidates: &[
            Bp { id: "a", optional: false, options: NINE_FAILING_THEN_EMPTY },
            Bp { id: "b", optional: false, options: NINE_FAILING_THEN_EMPTY },
            Bp { id: "c", optional: false, options: NINE_FAILING_THEN_EMPTY },
            Bp { id: "d", optional: false, options: NINE_FAILING_THEN_EMPTY },
        ],
        expect: Some(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &[])]),
    },
    Case {
        // The only resolving trial is number 2 * 10^4, past the cap.
        name: "success_beyond_max_trials_is_not_found",
        candidates: &[
            Bp { id: "a", optional: false, options: NINE_FAILING_THEN_EMPTY },
            Bp { id: "b", optional: false, options: NINE_FAILING_THEN_EMPTY },
            Bp { id: "c", optional: false, options: NINE_FAILING_THEN_EMPTY },
            Bp { id: "d", optional: false, options: NINE_FAILING_THEN_EMPTY },
            Bp { id: "e", optional: false, options: FAILING_THEN_EMPTY },
        ],
        expect: None,
    },
    Case {
        // 10^10 trials without the cap; with it, resolution gives up after 10^4.
        name: "many_alternatives_stop_at_max_trials",
        candidates: &[
            Bp { id: "a", optional: false, options: TEN_FAILING },
            Bp { id: "b", optional: false, options: TEN_FAILING },
            Bp { id: "c", optional: false, options: TEN_FAILING },
            Bp { id: "d", optional: false, options: TEN_FAILING },
            Bp { id: "e", optional: false, options: TEN_FAILING },
            Bp { id: "f", optional: false, options: TEN_FAILING },
            Bp { id: "g", optional: false, options: TEN_FAILING },
            Bp { id: "h", optional: false, options: TEN_FAILING },
            Bp { id: "i", optional: false, options: TEN_FAILING },
            Bp { id: "j", optional: false, options: TEN_FAILING },
        ],
        expect: None,
    },
];

/// What a case expects or got, in comparable form.
type Outcome = Option<Vec<(String, Vec<(String, toml::Table)>)>>;

fn metadata(case: &str, text: &str) -> toml::Table {
    text.parse().unwrap_or_else(|e| panic!("case {case}: metadata {text:?} is not TOML: {e}"))
}

fn candidates(case: &Case) -> Vec<Candidate> {
    case.candidates
        .iter()
        .map(|bp| Candidate {
            id: BuildpackId::parse(bp.id).unwrap_or_else(|e| panic!("case {}: {e}", case.name)),
            optional: bp.optional,
            options: bp
                .options
                .iter()
                .map(|o| PlanOption {
                    provides: o.provides.iter().map(|p| p.to_string()).collect(),
                    requires: o
                        .requires
                        .iter()
                        .map(|(name, meta)| Require { name: name.to_string(), metadata: metadata(case.name, meta) })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

fn expected(case: &Case) -> Outcome {
    case.expect.map(|members| {
        members
            .iter()
            .map(|(id, entries)| {
                let entries = entries.iter().map(|(name, meta)| (name.to_string(), metadata(case.name, meta))).collect();
                (id.to_string(), entries)
            })
            .collect()
    })
}

fn actual(candidates: &[Candidate], resolved: Option<Resolved>) -> Outcome {
    resolved.map(|resolved| {
        resolved
            .members
            .into_iter()
            .map(|(i, entries)| {
                let entries = entries.into_iter().map(|e| (e.name, e.metadata)).collect();
                (candidates[i].id.as_str().to_string(), entries)
            })
            .collect()
    })
}

#[test]
fn plan_resolution_cases() {
    let mut failures = Vec::new();
    for case in CASES {
        let candidates = candidates(case);
        let started = std::time::Instant::now();
        let got = actual(&candidates, resolve(&candidates));
        let took = started.elapsed();
        let want = expected(case);
        if got != want {
            failures.push(format!("case {}:\n  expected {want:?}\n  got      {got:?}", case.name));
        }
        if took > std::time::Duration::from_secs(10) {
            failures.push(format!("case {}: took {took:?}; resolution must stay bounded", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} plan cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn the_table_is_large_and_names_are_unique() {
    assert!(CASES.len() >= 22, "only {} cases", CASES.len());
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "two cases share a name");
}

#[test]
fn cap_cases_assume_max_trials_is_ten_to_the_fourth() {
    // success_at_trial_max_trials_is_found and success_beyond_max_trials_is_not_found
    // sit on either side of the cap; change them with it.
    assert_eq!(MAX_TRIALS, 10_usize.pow(4));
}
