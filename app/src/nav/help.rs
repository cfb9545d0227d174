//! The help pages: one short page per flow, written for the person doing
//! the work. Plain text kept in the code so it ships with the app, works
//! offline and is reviewed with the flows it describes.

/// A help page: a title, a one-line summary and its steps or notes.
pub struct HelpTopic {
    pub slug: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    pub sections: &'static [(&'static str, &'static [&'static str])],
}

pub const TOPICS: &[HelpTopic] = &[
    HelpTopic {
        slug: "getting-started",
        title: "Getting started",
        summary: "Set up an organization, its pantries and the people who run them.",
        sections: &[
            ("Places", &[
                "An organization (a college, a food bank, a shop) has campuses, and a campus has pantries. Stock, visits and donations belong to a pantry.",
                "Open your organization, add a campus, then add its pantries from the campus page.",
            ]),
            ("First steps", &[
                "Add products one by one in the Catalog, or import your catalog from a spreadsheet.",
                "Invite the people who work with you from People; each gets a role at the organization, a campus or one pantry.",
                "Record the first visit at the Counter. The checklist on the start page ticks each step off.",
            ]),
            ("Moving around", &[
                "The bar under the title shows the pantry you are working in; tap its name to switch pantries.",
                "Its sections (Counter, Inventory, Intake, Reports, Catalog, People, Settings) are one tap away from every page; on a phone they sit at the bottom of the screen.",
                "Search finds a product in every pantry you can see, with its stock and best-before dates.",
            ]),
        ],
    },
    HelpTopic {
        slug: "counter",
        title: "The counter: visits",
        summary: "Record who came and what they took, in a few taps.",
        sections: &[
            ("Record a visit", &[
                "Open Counter. Enter the client's card number or code if your pantry uses them, and the household's size if you record it.",
                "Add what they take: search, scan a barcode or tap a product, and set the quantity. Save the visit; the stock goes down at once.",
                "Card codes are compared without spaces, dashes or case, so “card 104” and “CARD-104” are the same household.",
            ]),
            ("Mistakes", &[
                "Open the visit from Visits and void it: everything it took goes back on the shelf and its history says “Returned (visit voided)”.",
                "Quick distribute hands out one product without a visit, for events and drop-offs.",
            ]),
        ],
    },
    HelpTopic {
        slug: "inventory",
        title: "Inventory and stock",
        summary: "What is on the shelves, what runs low and what expires.",
        sections: &[
            ("The list", &[
                "Inventory lists the products this pantry holds, with the quantity, the next best-before date and the weight. Products with no stock are hidden; “Show products with no stock” lists the whole catalog.",
                "Sort by best before to see what must go first. The Low stock and Expiring chips narrow the list.",
                "Download CSV saves exactly the list you see (the whole inventory, low stock or expiring) for a spreadsheet.",
            ]),
            ("One product", &[
                "Open a product to see its lots, its history in words (received, given out, returned, moved, thrown away) and its stock at every pantry.",
                "From there, receive, adjust after a count, move stock to another pantry, or discard what expired or was damaged.",
                "Set a minimum to have the product marked Low when it falls below it.",
            ]),
            ("Search every pantry", &[
                "Search (the magnifier in the bar) answers “where do we have rice?”: each pantry's stock and earliest best-before date, with a button to move some to the pantry you are in.",
            ]),
        ],
    },
    HelpTopic {
        slug: "intake",
        title: "Intake: donations and deliveries",
        summary: "Receive what comes in, with its donor and a receipt.",
        sections: &[
            ("A donation", &[
                "Open Intake and fill in one line per product: quantity, best-before date if it has one and, when you know it, the weight.",
                "Name the donor. Larder remembers donors so their name is suggested next time, and prints one receipt for the whole donation.",
            ]),
            ("By photo", &[
                "Take photos of the donation: Larder reads barcodes and dates on this server and suggests the lines; check them, name the donor and receive.",
            ]),
            ("Donors", &[
                "Each donor has a page with everything they gave over time and a year-end statement you can print or download as CSV.",
            ]),
        ],
    },
    HelpTopic {
        slug: "reports",
        title: "Reports, forecasts and ordering",
        summary: "What went out, who it served, and what to order next.",
        sections: &[
            ("Usage report", &[
                "Choose the place and the dates. The report counts visits, unduplicated households and what went out by category and product, and downloads as CSV.",
                "Imported history (from your old spreadsheets) shows as its own series, labelled “Imported history”, beside what Larder recorded.",
            ]),
            ("Forecasts and what to order", &[
                "Forecasts predicts each product's demand from its history. What to order turns them into quantities, with the day to order by.",
            ]),
            ("Importing history", &[
                "An admin can import past distributions from CSV or a spreadsheet; rows with errors are listed and can be downloaded to fix and import again.",
            ]),
        ],
    },
    HelpTopic {
        slug: "catalog",
        title: "The catalog",
        summary: "The products every pantry of the organization shares.",
        sections: &[
            ("Products", &[
                "A product has a name, a category, a unit (each, pack, kg, lb or litre), barcodes and, when known, its weight per unit.",
                "Counted products (each, pack) show counts; products sold by weight or volume show quantities in their unit.",
            ]),
            ("Import and export", &[
                "Export the catalog to CSV, edit it in a spreadsheet and import it back; a file with errors changes nothing and says which rows to fix.",
            ]),
        ],
    },
    HelpTopic {
        slug: "people",
        title: "People and roles",
        summary: "Who can do what, and how to invite them.",
        sections: &[
            ("Roles", &[
                "Viewers see stock and reports. Staff also record visits, donations and movements. Managers also change settings and the catalog. Admins also manage people.",
                "A role is held at the organization, a campus or one pantry, and covers everything inside it.",
            ]),
            ("Invitations", &[
                "Invite someone by email address, choose their role and where it applies. They open the link to create their account; an unused invitation can be revoked.",
            ]),
            ("Changing and removing", &[
                "On People, pick a member's new role and press Change role, or Remove… to take away their access to that place; it takes effect on their next click.",
                "Anyone can leave an organization from the bottom of its page. The last admin of an organization has to make someone else an admin first.",
            ]),
            ("Scripts and the API", &[
                "Admins make API keys on the organization's API keys page, for the organization or one pantry, read only or read and write. The key is shown once; revoke it when the script is retired. The API is described at /developers.",
            ]),
        ],
    },
    HelpTopic {
        slug: "settings",
        title: "Pantry settings",
        summary: "Name, time zone and archiving.",
        sections: &[
            ("Settings", &[
                "Rename a pantry at any time; its history keeps following it.",
                "A pantry counts its days (for visits, movements and reports) from midnight in its time zone, or its organization's when it has none.",
                "Archiving hides a pantry and stops new work there. Nothing is deleted.",
            ]),
        ],
    },
];

pub fn topic(slug: &str) -> Option<&'static HelpTopic> {
    TOPICS.iter().find(|t| t.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nav::model::Section;

    #[test]
    fn every_section_has_its_help_page() {
        for s in Section::NAVIGATION.into_iter().chain([Section::Home]) {
            assert!(topic(s.help_topic()).is_some(), "{s:?} has no help");
        }
    }
}
