//! A person's profile (`/people/:id`) and one's own people
//! (`/community/people`): requests to answer, follows, followers, blocks,
//! and who may see one's profile.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::api::*;
use super::model::*;
use super::photo_views::{Avatar, PhotoPicker};
use super::views::PostCard;
use crate::ids::{PhotoId, UserId};
use crate::ui::*;

#[component]
pub fn ProfilePage() -> impl IntoView {
    let params = use_params_map();
    let person = move || params.read().get("id").unwrap_or_default();
    let changed = RwSignal::new(0u32);
    let follow = ServerAction::<FollowPerson>::new();
    let unfollow = ServerAction::<Unfollow>::new();
    let block = ServerAction::<BlockPerson>::new();
    let unblock = ServerAction::<UnblockPerson>::new();
    let data = Resource::new(
        move || {
            (
                person(),
                changed.get(),
                follow.version().get(),
                unfollow.version().get(),
                block.version().get(),
                unblock.version().get(),
            )
        },
        |(person, ..)| get_profile(UserId::from_stored(person)),
    );
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let p = match data.await {
                    Ok(p) => p,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let id = p.person.id.to_string();
                let (follow_id, unfollow_id, block_id) = (id.clone(), id.clone(), id.clone());
                let follow_status = p.follow.clone();
                let counts = format!(
                    "{} {} · following {}",
                    p.followers,
                    if p.followers == 1 { "follower" } else { "followers" },
                    p.following
                );
                view! {
                    <Title text=p.person.name.clone() />
                    <div class="page-head">
                        <Avatar person=p.person.clone() large=true />
                        <h1>{p.person.name.clone()}</h1>
                        <p class="muted">{counts}</p>
                        <div class="actions">
                            {p.mine.then(|| view! { <a class="button" href="/community/people">"Edit your profile"</a> })}
                            {(!p.mine && !p.blocked).then(move || match follow_status.as_deref() {
                                None => view! {
                                    <ActionForm action=follow>
                                        <input type="hidden" name="person" value=follow_id />
                                        <button type="submit" class="button primary">"Follow"</button>
                                    </ActionForm>
                                }.into_any(),
                                Some(status) => {
                                    let label = if status == "requested" { "Requested · withdraw" } else { "Following ✓" };
                                    view! {
                                    <ActionForm action=unfollow>
                                        <input type="hidden" name="target" value=unfollow_id />
                                        <button type="submit" class="button">{label}</button>
                                    </ActionForm>
                                }.into_any()
                                }
                            })}
                            {(!p.mine).then(|| if p.blocked {
                                view! {
                                    <ActionForm action=unblock>
                                        <input type="hidden" name="person" value=block_id />
                                        <button type="submit" class="button">"Unblock"</button>
                                    </ActionForm>
                                }.into_any()
                            } else {
                                view! {
                                    <ActionForm action=block>
                                        <input type="hidden" name="person" value=block_id />
                                        <button type="submit" class="button danger">"Block"</button>
                                    </ActionForm>
                                }.into_any()
                            })}
                        </div>
                    </div>
                    {if !p.visible {
                        view! {
                            <EmptyState title="This profile is for followers">
                                <p>{if p.blocked { "You blocked this person." } else { "Ask to follow, and you will see it once they accept." }}</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            {(!p.bio.is_empty()).then(|| view! { <p class="card post-body">{p.bio.clone()}</p> })}
                            {(!p.roles.is_empty()).then(|| view! {
                                <ul class="list" aria-label="Where they help">
                                    {p.roles.iter().map(|(role, place)| view! { <li>{format!("{role} · {place}")}</li> }).collect_view()}
                                </ul>
                            })}
                            <h2>"Recent posts"</h2>
                            {p.posts.is_empty().then(|| view! { <p class="muted">"No posts yet."</p> })}
                            <div class="posts">
                                {p.posts.into_iter().map(|post| view! { <PostCard post changed /> }).collect_view()}
                            </div>
                        }.into_any()
                    }}
                }.into_any()
            })}
        </Transition>
    }
}

/// A list of people or pantries, each with one action.
#[component]
fn People(
    title: &'static str,
    empty: &'static str,
    entries: Vec<Entry>,
    #[prop(optional)] action: Option<(&'static str, Callback<String>)>,
) -> impl IntoView {
    view! {
        <section class="card">
            <h2>{title}</h2>
            {entries.is_empty().then(|| view! { <p class="muted">{empty}</p> })}
            <ul class="list">
                {entries.into_iter().map(|e| {
                    let id = e.id.clone();
                    view! {
                        <li>
                            <a href=e.link.clone()>{e.name.clone()}</a>
                            {action.map(|(label, run)| view! {
                                <button type="button" class="button small" on:click=move |_| run.run(id.clone())>{label}</button>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
pub fn MyPeoplePage() -> impl IntoView {
    let answer = ServerAction::<AnswerFollowRequest>::new();
    let unfollow = ServerAction::<Unfollow>::new();
    let unblock = ServerAction::<UnblockPerson>::new();
    let save = ServerAction::<SaveProfile>::new();
    let save_error = last_error(save.value());
    let avatar = ServerAction::<SetAvatar>::new();
    let avatar_error = last_error(avatar.value());
    let picked = RwSignal::new(Vec::<PhotoId>::new());
    let busy = RwSignal::new(0usize);
    // A photo, once uploaded, becomes the avatar at once.
    Effect::new(move |_| {
        if let Some(photo) = picked.get().first() {
            avatar.dispatch(SetAvatar {
                photo: photo.to_string(),
            });
            picked.set(vec![]);
        }
    });
    let data = Resource::new(
        move || {
            (
                answer.version().get(),
                unfollow.version().get(),
                unblock.version().get(),
                save.version().get(),
                avatar.version().get(),
            )
        },
        |_| get_my_people(),
    );
    let accept = Callback::new(move |id: String| {
        answer.dispatch(AnswerFollowRequest {
            follower: UserId::from_stored(id),
            accept: true,
        });
    });
    let stop = Callback::new(move |id: String| {
        unfollow.dispatch(Unfollow { target: id });
    });
    let lift = Callback::new(move |id: String| {
        unblock.dispatch(UnblockPerson {
            person: UserId::from_stored(id),
        });
    });
    let saved = move || matches!(save.value().get(), Some(Ok(())));
    view! {
        <Title text="Your people" />
        <div class="page-head"><h1>"Your people"</h1></div>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let m = match data.await {
                    Ok(m) => m,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                view! {
                    {(!m.requests.is_empty()).then(|| view! {
                        <People title="Asking to follow you" empty="" entries=m.requests.clone() action=("Accept", accept) />
                    })}
                    <People title="You follow" empty="Nobody yet: follow pantries from their timelines, and people from their profiles." entries=m.following.clone() action=("Unfollow", stop) />
                    <People title="Your followers" empty="Nobody follows you yet." entries=m.followers.clone() />
                    <People title="You blocked" empty="Nobody." entries=m.blocked.clone() action=("Unblock", lift) />
                    <section class="card">
                        <h2>"Your profile"</h2>
                        <div class="avatar-edit">
                            <Avatar person=m.me.clone() large=true />
                            <div class="stack">
                                <p class="hint">"Your photo shows with your name on posts and comments, to everyone who sees them. It is made smaller on this device and its location data is removed."</p>
                                <PhotoPicker id="avatar-photo" label=if m.me.avatar.is_some() { "Change your photo" } else { "Add your photo" } max=1 photos=picked busy />
                                {m.me.avatar.is_some().then(|| view! {
                                    <button type="button" class="button small" on:click=move |_| {
                                        avatar.dispatch(SetAvatar { photo: String::new() });
                                    }>"Remove your photo"</button>
                                })}
                                <FormError error=avatar_error fields=&[] />
                            </div>
                        </div>
                        <ActionForm action=save attr:class="stack" attr:aria-label="Your profile">
                            <div class="field">
                                <label for="profile-bio">"About you"</label>
                                <textarea id="profile-bio" name="bio" rows="3" maxlength="300">{m.bio.clone()}</textarea>
                            </div>
                            <div class="field">
                                <label for="profile-visibility">"Who can see your profile"</label>
                                <select id="profile-visibility" name="visibility">
                                    {ProfileVisibility::ALL.iter().map(|v| view! {
                                        <option value=v.as_str() selected=*v == m.visibility>{v.label()}</option>
                                    }).collect_view()}
                                </select>
                            </div>
                            <FormError error=save_error fields=&[] />
                            {move || saved().then(|| view! { <p class="notice" role="status">"Saved."</p> })}
                            <SubmitButton label="Save" busy_label="Saving…" pending=save.pending() />
                        </ActionForm>
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}
