//! Any text as an alert-rule expression: never panics and errors point at a char boundary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::rule_expr::RuleExpr;

fuzz_target!(|text: &str| {
    match RuleExpr::parse(text) {
        Ok(expr) => {
            let _ = expr.holds(1.0);
            let _ = expr.selects(&Default::default());
        }
        Err(err) => assert!(text.is_char_boundary(err.offset)),
    }
});
