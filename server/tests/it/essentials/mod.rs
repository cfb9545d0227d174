//! Coordinator essentials: finding your way, finding your stock, donations
//! and donors, imported history in reports.
//!
//! One file per part: [`navigation`], [`stock`], [`donations`],
//! [`history`]; the CSV reader they share is here.

mod donations;
mod history;
mod navigation;
mod stock;

/// Parses a CSV body into its records (rows may differ in length).
fn records(body: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}
