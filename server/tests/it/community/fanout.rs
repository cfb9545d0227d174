//! Property test of fan-out (on write, and on read for pantries with more
//! followers than the limit): after random follows, unfollows,
//! blocks, unblocks, posts, removals and timelines opened or closed, sent
//! over HTTP, every person's home timeline (read page by page) holds
//! exactly the posts a plain model of follows, blocks and visibility says
//! they should see; every request the model says is allowed succeeds and
//! every other is refused.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Client, StatusCode};

use super::*;
use crate::inventory::drained;

/// Four people: 0 and 1 at the main pantry, 2 at the library (both of the
/// college), 3 at another organization's pantry.
const PEOPLE: usize = 4;
/// Pantries: 0 main, 1 library (the college's), 2 the other one.
const PANTRIES: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    FollowPantry(usize, usize),
    FollowPerson(usize, usize),
    Unfollow(usize, Target),
    Block(usize, usize),
    Unblock(usize, usize),
    Post(usize, usize),
    /// The author of the n-th post (modulo how many there are) removes it.
    Remove(usize),
    Open(usize, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Pantry(usize),
    Person(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..PEOPLE;
    let pantry = 0..PANTRIES;
    prop_oneof![
        3 => (who.clone(), pantry.clone()).prop_map(|(a, b)| Op::FollowPantry(a, b)),
        3 => (who.clone(), who.clone()).prop_map(|(a, b)| Op::FollowPerson(a, b)),
        1 => (who.clone(), pantry.clone()).prop_map(|(a, b)| Op::Unfollow(a, Target::Pantry(b))),
        1 => (who.clone(), who.clone()).prop_map(|(a, b)| Op::Unfollow(a, Target::Person(b))),
        1 => (who.clone(), who.clone()).prop_map(|(a, b)| Op::Block(a, b)),
        1 => (who.clone(), who.clone()).prop_map(|(a, b)| Op::Unblock(a, b)),
        4 => (who.clone(), pantry.clone()).prop_map(|(a, b)| Op::Post(a, b)),
        1 => (0..50usize).prop_map(Op::Remove),
        1 => (pantry, any::<bool>()).prop_map(|(p, open)| Op::Open(p, open)),
    ]
}

/// What the model knows.
#[derive(Default)]
struct Model {
    follows: HashSet<(usize, Target)>,
    blocks: HashSet<(usize, usize)>,
    /// (id, author, pantry, removed)
    posts: Vec<(String, usize, usize, bool)>,
    open: [bool; PANTRIES],
}

/// The organization of a person and of a pantry: the college (0) or the
/// other one (1).
fn org_of_person(p: usize) -> usize {
    usize::from(p == 3)
}
fn org_of_pantry(p: usize) -> usize {
    usize::from(p == 2)
}
/// Where each person has a role (and so may post).
fn posts_at(person: usize, pantry: usize) -> bool {
    matches!((person, pantry), (0 | 1, 0) | (2, 1) | (3, 2))
}

impl Model {
    fn blocked(&self, a: usize, b: usize) -> bool {
        self.blocks.contains(&(a, b)) || self.blocks.contains(&(b, a))
    }
    /// Whether `a` may know `b` exists: one organization, or `b` follows `a`.
    fn knows(&self, a: usize, b: usize) -> bool {
        org_of_person(a) == org_of_person(b) || self.follows.contains(&(b, Target::Person(a)))
    }
    fn sees_pantry(&self, person: usize, pantry: usize) -> bool {
        org_of_person(person) == org_of_pantry(pantry) || self.open[pantry]
    }
    /// The home timeline the model expects, as a set of post ids.
    fn home(&self, me: usize) -> BTreeSet<String> {
        self.posts
            .iter()
            .filter(|(_, author, pantry, removed)| {
                !removed
                    && self.sees_pantry(me, *pantry)
                    && !self.blocked(me, *author)
                    && (*author == me
                        || self.follows.contains(&(me, Target::Pantry(*pantry)))
                        || self.follows.contains(&(me, Target::Person(*author))))
            })
            .map(|(id, ..)| id.clone())
            .collect()
    }
}

struct World {
    app: TestApp,
    people: Vec<(Client, String)>,
    pantries: Vec<String>,
}

async fn world(backend: Backend) -> World {
    // A pantry with two followers or more is fanned out on read, so both
    // ways of reaching a home timeline (and the switch between them as
    // follows come and go) are in play.
    let app = spawn_with(backend, &[("LARDER_TIMELINE_FANOUT_LIMIT", "1")]).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let other = app
        .create(&admin, "create_organization", &[("name", "Other Bank")])
        .await;
    let campus = app
        .create(
            &admin,
            "create_campus",
            &[("organization", &other), ("name", "Downtown")],
        )
        .await;
    let third = app
        .create(
            &admin,
            "create_pantry",
            &[("campus", &campus), ("name", "Other Pantry")],
        )
        .await;
    let pantries = vec![p.main.clone(), p.library.clone(), third];
    let mut people = Vec::new();
    for (i, pantry) in [0, 0, 1, 2].into_iter().enumerate() {
        let scope = format!("pantry:{}", pantries[pantry]);
        people.push(
            person(
                &app,
                &admin,
                &format!("p{i}@example.org"),
                "staff",
                &scope,
                &format!("Person {i}"),
            )
            .await,
        );
    }
    World {
        app,
        people,
        pantries,
    }
}

async fn run(world: &World, model: &mut Model, ops: &[Op]) {
    let app = &world.app;
    for op in ops {
        let (who, r, allowed) = match op.clone() {
            Op::FollowPantry(a, p) => {
                let r = app
                    .call(
                        &world.people[a].0,
                        "follow_pantry",
                        &[("pantry", &world.pantries[p])],
                    )
                    .await;
                let ok = model.sees_pantry(a, p);
                if ok {
                    model.follows.insert((a, Target::Pantry(p)));
                }
                (a, r, ok)
            }
            Op::FollowPerson(a, b) => {
                let r = app
                    .call(
                        &world.people[a].0,
                        "follow_person",
                        &[("person", &world.people[b].1)],
                    )
                    .await;
                let ok = a != b && model.knows(a, b) && !model.blocked(a, b);
                if ok {
                    model.follows.insert((a, Target::Person(b)));
                }
                (a, r, ok)
            }
            Op::Unfollow(a, t) => {
                let id = match t {
                    Target::Pantry(p) => &world.pantries[p],
                    Target::Person(b) => &world.people[b].1,
                };
                let r = app
                    .call(&world.people[a].0, "unfollow", &[("target", id)])
                    .await;
                model.follows.remove(&(a, t));
                (a, r, true)
            }
            Op::Block(a, b) => {
                let r = app
                    .call(
                        &world.people[a].0,
                        "block_person",
                        &[("person", &world.people[b].1)],
                    )
                    .await;
                // Also someone whose post one can read.
                let wrote = model
                    .posts
                    .iter()
                    .any(|(_, author, pantry, _)| *author == b && model.sees_pantry(a, *pantry));
                let ok = a != b && (model.knows(a, b) || wrote);
                if ok && model.blocks.insert((a, b)) {
                    model.follows.remove(&(a, Target::Person(b)));
                    model.follows.remove(&(b, Target::Person(a)));
                }
                (a, r, ok)
            }
            Op::Unblock(a, b) => {
                let r = app
                    .call(
                        &world.people[a].0,
                        "unblock_person",
                        &[("person", &world.people[b].1)],
                    )
                    .await;
                model.blocks.remove(&(a, b));
                (a, r, true)
            }
            Op::Post(a, p) => {
                let form = [
                    ("pantry", world.pantries[p].as_str()),
                    ("kind", "announcement"),
                    ("body", "News"),
                    ("event_on", ""),
                ];
                let r = app.call(&world.people[a].0, "publish_post", &form).await;
                let ok = posts_at(a, p);
                if ok {
                    model.posts.push((
                        r.body.as_str().unwrap_or_default().to_string(),
                        a,
                        p,
                        false,
                    ));
                }
                (a, r, ok)
            }
            Op::Remove(n) => {
                if model.posts.is_empty() {
                    continue;
                }
                let i = n % model.posts.len();
                let (id, author, pantry, removed) = model.posts[i].clone();
                let r = app
                    .call(&world.people[author].0, "delete_post", &[("post", &id)])
                    .await;
                let _ = pantry;
                let ok = !removed;
                if ok {
                    model.posts[i].3 = true;
                }
                (author, r, ok)
            }
            Op::Open(p, open) => {
                // The pantry's own staff cannot; its organization's admin can.
                let visibility = if open { "signed_in" } else { "organization" };
                let form = [
                    ("pantry", world.pantries[p].as_str()),
                    ("visibility", visibility),
                ];
                let staff = [0, 2, 3][p];
                let r = app
                    .call(&world.people[staff].0, "set_timeline_visibility", &form)
                    .await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{op:?}: {:?}", r.body);
                app.sql(&format!(
                    "insert into timeline_settings (pantry_id, visibility, updated_at) values ('{}', '{visibility}', 1) \
                     on conflict (pantry_id) do update set visibility = excluded.visibility",
                    world.pantries[p]
                ))
                .await;
                model.open[p] = open;
                continue;
            }
        };
        assert_eq!(
            r.status == StatusCode::OK,
            allowed,
            "{op:?} by person {who}: the model says {}, Larder answered {} {:?}",
            if allowed { "allowed" } else { "refused" },
            r.status,
            r.body
        );
        assert_ne!(r.status.as_u16(), 500, "{op:?}: {:?}", r.body);
    }
    drained(app).await;
    for me in 0..PEOPLE {
        let home = home_ids(app, &world.people[me].0).await;
        let unique: BTreeSet<String> = home.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            home.len(),
            "person {me}: a post twice in {home:?}"
        );
        assert_eq!(
            unique,
            model.home(me),
            "person {me}'s home timeline after {ops:?}"
        );
    }
}

fn property(backend: Backend, cases: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let world = rt.block_on(world(backend));
    // One model for the whole run: every case (and every shrunk one)
    // continues from what the ones before left, in Larder and the model.
    let model = Mutex::new(Model::default());
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        // Each case continues from the state the earlier ones left, so a
        // shrunk case would not replay the failure: report it as found.
        max_shrink_iters: 0,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..30), |ops| {
        let mut model = model.lock().unwrap_or_else(|e| e.into_inner());
        rt.block_on(run(&world, &mut model, &ops));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn home_timelines_equal_the_model_of_follows_and_posts_sqlite() {
    property(Backend::Sqlite, 24);
}

#[test]
fn home_timelines_equal_the_model_of_follows_and_posts_postgres() {
    property(Backend::Postgres, 10);
}
