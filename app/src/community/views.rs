//! The community's pages: the home timeline (`/community`, live), a pantry's
//! timeline with its composer (`/pantries/:id/timeline`) and a post with
//! its comments (`/posts/:id`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::*;
use super::model::*;
use super::moderation_views::ReportedPosts;
use super::photo_views::{Avatar, PhotoPicker, PostPhotos};
use crate::ids::{PantryId, PhotoId, PostId};
use crate::inventory::views::LiveStream;
use crate::ui::*;

/// A post's text with its links and mentions live.
#[component]
fn Body(body: String, mentions: Vec<(String, crate::ids::UserId)>) -> impl IntoView {
    segments(&body, &mentions)
        .into_iter()
        .map(|s| match s {
            Segment::Text(t) => view! { <span>{t}</span> }.into_any(),
            Segment::Link(url) => view! {
                <a href=url.clone() rel="nofollow noopener noreferrer" target="_blank">{url.clone()}</a>
            }
            .into_any(),
            Segment::Mention(token, Some(_)) => {
                view! { <strong class="mention">{format!("@{token}")}</strong> }.into_any()
            }
            Segment::Mention(token, None) => view! { <span>{format!("@{token}")}</span> }.into_any(),
        })
        .collect_view()
}

/// One post in a list, with its like button and its way to the comments.
#[component]
pub(super) fn PostCard(
    post: PostView,
    /// Bumped after a like or a removal, so the list is read again.
    changed: RwSignal<u32>,
    /// On the post's own page the comment count is not a link.
    #[prop(optional)]
    alone: bool,
) -> impl IntoView {
    let like = ServerAction::<Like>::new();
    let remove = ServerAction::<DeletePost>::new();
    Effect::new(move |_| {
        if like.version().get() > 0 || remove.version().get() > 0 {
            changed.try_update(|n| *n = n.wrapping_add(1));
        }
    });
    let id = post.id.to_string();
    let author = match &post.author {
        Some(a) => {
            let person = a.clone();
            view! {
                <a class="post-author" href=format!("/people/{}", a.id)>
                    <Avatar person /><strong>{a.name.clone()}</strong>
                </a>
            }
            .into_any()
        }
        None => view! { <strong>"Larder"</strong> }.into_any(),
    };
    let kind_class = format!("badge post-kind {}", post.kind.as_str());
    let comments = match post.comments {
        0 => "Comment".to_string(),
        1 => "1 comment".to_string(),
        n => format!("{n} comments"),
    };
    let likes = match post.likes {
        0 => String::new(),
        n => format!(" {n}"),
    };
    let like_label = if post.liked { "Liked" } else { "Like" };
    let anchor = format!("post-{id}");
    let remove_id = id.clone();
    let like_id = id.clone();
    view! {
        <article class="card post" class:unread=post.unread data-testid="post" id=anchor>
            <header class="post-head">
                <span class=kind_class>{post.kind.label()}</span>
                <span class="post-by">
                    {author}
                    " · "
                    <a href=format!("/pantries/{}/timeline", post.pantry)>{post.pantry_name.clone()}</a>
                </span>
                <span class="muted post-at">
                    {post.at.clone()}
                    {post.edited.then_some(" · edited")}
                    {post.unread.then(|| view! { " " <span class="badge">"new"</span> })}
                </span>
            </header>
            {post.event_on.clone().map(|d| view! { <p class="post-date">"📅 " {d}</p> })}
            <p class="post-body"><Body body=post.body.clone() mentions=post.mentions.clone() /></p>
            <PostPhotos photos=post.photos.clone() />
            <footer class="post-actions">
                <ActionForm action=like>
                    <input type="hidden" name="target" value=like_id />
                    <input type="hidden" name="on" value=if post.liked { "false" } else { "true" } />
                    <button type="submit" class="button small" aria-pressed=if post.liked { "true" } else { "false" }>
                        {if post.liked { "♥ " } else { "♡ " }}{like_label}{likes}
                    </button>
                </ActionForm>
                {if alone {
                    view! { <span class="muted">{comments}</span> }.into_any()
                } else {
                    view! { <a class="button small" href=format!("/posts/{id}")>{comments}</a> }.into_any()
                }}
                {post.can_delete.then(|| view! {
                    <ActionForm action=remove>
                        <input type="hidden" name="post" value=remove_id />
                        <button type="submit" class="button small danger">"Delete"</button>
                    </ActionForm>
                })}
            </footer>
        </article>
    }
}

/// Writing a post on a pantry's timeline.
#[component]
fn Composer(pantry: PantryId, published: ServerAction<PublishPost>) -> impl IntoView {
    let error = last_error(published.value());
    let kind = RwSignal::new("announcement".to_string());
    let photos = RwSignal::new(Vec::<PhotoId>::new());
    let busy = RwSignal::new(0usize);
    // Cleared after each post: the form is drawn again, without photos.
    Effect::new(move |_| {
        if published.version().get() > 0 && published.value().get().is_some_and(|r| r.is_ok()) {
            photos.set(vec![]);
        }
    });
    let photo_ids = move || {
        photos
            .get()
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    view! {
        {move || {
            let _ = published.version().get();
            let pantry = pantry.to_string();
            view! {
                <ActionForm action=published attr:class="card stack composer" attr:aria-label="New post">
                    <input type="hidden" name="pantry" value=pantry />
                    <div class="field">
                        <label for="post-kind">"What is it"</label>
                        <select id="post-kind" name="kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                            {PostKind::WRITTEN.iter().map(|k| view! {
                                <option value=k.as_str()>{k.label()}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <div class="field" class:field-invalid=move || error.get().is_some_and(|e| e.field() == Some("body"))>
                        <label for="post-body">"Post"</label>
                        <p class="hint" id="post-body-hint">"Name people with @ and their e-mail name, for example @sam. Links work."</p>
                        <textarea id="post-body" name="body" rows="4" maxlength="4000" aria-describedby="post-body-hint"></textarea>
                        {move || error.get().filter(|e| e.field() == Some("body")).map(|e| view! { <p class="field-error">{e.to_string()}</p> })}
                    </div>
                    <div class="field" class:hidden=move || kind.get() != "event">
                        <label for="post-event-on">"Date of the event"</label>
                        <input id="post-event-on" type="date" name="event_on" />
                        {move || error.get().filter(|e| e.field() == Some("event_on")).map(|e| view! { <p class="field-error">{e.to_string()}</p> })}
                    </div>
                    <input type="hidden" name="photos" prop:value=photo_ids />
                    <PhotoPicker id="post-photos" label="Add photos (up to 4)" max=MAX_POST_PHOTOS photos busy />
                    {move || error.get().filter(|e| e.field() == Some("photos")).map(|e| view! { <p class="field-error">{e.to_string()}</p> })}
                    <FormError error=error fields=&["body", "event_on", "photos"] />
                    <SubmitButton label="Post" busy_label="Posting…" pending=published.pending()
                        waiting=Signal::derive(move || busy.get() > 0) />
                </ActionForm>
            }
        }}
    }
}

/// The posts of a page, and the link to older ones.
#[component]
fn PostList(timeline: Timeline, changed: RwSignal<u32>, older: String) -> impl IntoView {
    let next = timeline.next.clone();
    view! {
        <div class="posts" aria-label="Posts" role="feed">
            {timeline.posts.into_iter().map(|post| view! { <PostCard post changed /> }).collect_view()}
        </div>
        {next.map(|n| view! {
            <p class="actions"><a class="button" href=format!("{older}?cursor={n}")>"Older posts"</a></p>
        })}
    }
}

#[component]
pub fn HomeTimelinePage() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("cursor").unwrap_or_default();
    let changed = RwSignal::new(0u32);
    // Bumped by the live stream when a post reaches this timeline.
    let arrived = RwSignal::new(0u64);
    let data = Resource::new(
        move || (cursor(), changed.get(), arrived.get()),
        |(cursor, ..)| get_home_timeline(cursor),
    );
    let mark = ServerAction::<MarkHomeRead>::new();
    view! {
        <Title text="Community" />
        <div class="page-head">
            <h1>"Community"</h1>
            <p class="muted">"Posts of the pantries and people you follow, newest first."</p>
            <LiveStream url=Signal::derive(|| "/live/home".to_string()) events=&["posts"] tick=arrived />
        </div>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let t = match data.await {
                    Ok(t) => t,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                if t.posts.is_empty() {
                    return view! {
                        <EmptyState title="Nothing here yet">
                            <p>"Follow a pantry from its timeline (on the pantry's page) to see its announcements, needs and thank-yous here."</p>
                        </EmptyState>
                    }.into_any();
                }
                let unread = t.unread;
                let trimmed = t.trimmed;
                view! {
                    {(unread > 0).then(|| view! {
                        <div class="notice unread-marker" role="status" data-testid="unread">
                            {if unread == 1 { "1 new post".to_string() } else if unread >= 100 { "99+ new posts".to_string() } else { format!("{unread} new posts") }}
                            <ActionForm action=mark>
                                <button type="submit" class="button small">"Mark all read"</button>
                            </ActionForm>
                        </div>
                    })}
                    <PostList timeline=t changed older="/community".into() />
                    {trimmed.then(|| view! {
                        <p class="muted end-note" data-testid="trimmed">"That is as far back as your home timeline goes. Older posts are on each pantry's timeline."</p>
                    })}
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
pub fn PantryTimelinePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let pantry = move || params.read().get("id").unwrap_or_default();
    let cursor = move || query.read().get("cursor").unwrap_or_default();
    let changed = RwSignal::new(0u32);
    let published = ServerAction::<PublishPost>::new();
    let follow = ServerAction::<FollowPantry>::new();
    let unfollow = ServerAction::<Unfollow>::new();
    let open = ServerAction::<SetTimelineVisibility>::new();
    let automatic = ServerAction::<SaveAutomaticPosts>::new();
    let data = Resource::new(
        move || {
            (
                pantry(),
                cursor(),
                changed.get(),
                published.version().get(),
                follow.version().get(),
                unfollow.version().get(),
                open.version().get(),
                automatic.version().get(),
            )
        },
        |(pantry, cursor, ..)| get_pantry_timeline(PantryId::from_stored(pantry), cursor),
    );
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let t = match data.await {
                    Ok(t) => t,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let id = t.pantry.to_string();
                let followers = match t.followers {
                    1 => "1 follower".to_string(),
                    n => format!("{n} followers"),
                };
                let public = t.visibility == TimelineVisibility::SignedIn;
                let (open_id, older) = (id.clone(), format!("/pantries/{id}/timeline"));
                let (follow_id, pantry_link) = (id.clone(), format!("/pantries/{id}"));
                view! {
                    <Title text=format!("{} · timeline", t.name) />
                    <div class="page-head">
                        <h1>{t.name.clone()}</h1>
                        <p class="muted">
                            {followers} " · "
                            {if public { "Everyone signed in can read this timeline" } else { "People of the organization can read this timeline" }}
                        </p>
                        <div class="actions">
                            {if t.following {
                                view! {
                                    <ActionForm action=unfollow>
                                        <input type="hidden" name="target" value=follow_id />
                                        <button type="submit" class="button">"Following ✓"</button>
                                    </ActionForm>
                                }.into_any()
                            } else {
                                view! {
                                    <ActionForm action=follow>
                                        <input type="hidden" name="pantry" value=follow_id />
                                        <button type="submit" class="button primary">"Follow"</button>
                                    </ActionForm>
                                }.into_any()
                            }}
                            {t.can_manage.then(|| view! {
                                <ActionForm action=open>
                                    <input type="hidden" name="pantry" value=open_id />
                                    <input type="hidden" name="visibility" value=if public { "organization" } else { "signed_in" } />
                                    <button type="submit" class="button">
                                        {if public { "Make it the organization's only" } else { "Open it to everyone signed in" }}
                                    </button>
                                </ActionForm>
                            })}
                            <a class="button" href=pantry_link>"Pantry"</a>
                        </div>
                    </div>
                    {t.can_post.then(|| view! { <Composer pantry=t.pantry.clone() published /> })}
                    {t.automatic.map(|a| view! { <AutomaticSettings pantry=t.pantry.clone() current=a save=automatic /> })}
                    {t.can_manage.then(|| view! { <ReportedPosts pantry=t.pantry.clone() changed /> })}
                    {if t.timeline.posts.is_empty() {
                        view! { <EmptyState title="No posts yet"><p>"Announcements, needs, thank-yous and events of this pantry show here."</p></EmptyState> }.into_any()
                    } else {
                        view! { <PostList timeline=t.timeline changed older /> }.into_any()
                    }}
                }.into_any()
            })}
        </Transition>
    }
}

/// The pantry managers' choice of the posts Larder writes by itself.
#[component]
fn AutomaticSettings(
    pantry: PantryId,
    current: AutomaticPosts,
    save: ServerAction<SaveAutomaticPosts>,
) -> impl IntoView {
    let error = last_error(save.value());
    let boxes = [
        (
            "donations",
            "A large donation came in (how much, never who gave it)",
            current.donations,
        ),
        (
            "milestones",
            "A milestone of visits this semester",
            current.milestones,
        ),
        (
            "back_in_stock",
            "A product that ran out is back in stock",
            current.back_in_stock,
        ),
        (
            "needs",
            "An urgent need the stock issues found",
            current.needs,
        ),
    ];
    view! {
        <details class="card">
            <summary>"Posts Larder writes here"</summary>
            <ActionForm action=save attr:class="stack" attr:aria-label="Automatic posts">
                <input type="hidden" name="pantry" value=pantry.to_string() />
                {boxes.into_iter().map(|(name, label, on)| view! {
                    <div class="field check"><label><input type="checkbox" name=name value="on" checked=on />" " {label}</label></div>
                }).collect_view()}
                <p class="hint">"They never name a client, a household or a donor."</p>
                <FormError error=error fields=&[] />
                <SubmitButton label="Save" busy_label="Saving…" pending=save.pending() />
            </ActionForm>
        </details>
    }
}

/// A comment, its like and delete buttons, and (for a top-level one) its
/// replies and the form to answer it.
#[component]
fn CommentItem(
    comment: CommentView,
    post: PostId,
    changed: RwSignal<u32>,
    #[prop(optional)] reply: bool,
) -> impl IntoView {
    let like = ServerAction::<Like>::new();
    let remove = ServerAction::<DeleteComment>::new();
    let answer = ServerAction::<AddComment>::new();
    Effect::new(move |_| {
        if like.version().get() > 0 || remove.version().get() > 0 || answer.version().get() > 0 {
            changed.try_update(|n| *n = n.wrapping_add(1));
        }
    });
    // A sent reply leaves an empty, closed form behind.
    let reply_box: NodeRef<leptos::html::Textarea> = NodeRef::new();
    let reply_form: NodeRef<leptos::html::Details> = NodeRef::new();
    Effect::new(move |_| {
        if matches!(answer.value().get(), Some(Ok(_))) {
            if let Some(t) = reply_box.get_untracked() {
                t.set_value("");
            }
            if let Some(d) = reply_form.get_untracked() {
                d.set_open(false);
            }
        }
    });
    let id = comment.id.to_string();
    let answer_error = last_error(answer.value());
    let likes = match comment.likes {
        0 => String::new(),
        n => format!(" {n}"),
    };
    let anchor = format!("comment-{id}");
    let remove_id = id.clone();
    let reply_to = id.clone();
    let like_id = id.clone();
    view! {
        <li class="comment" id=anchor data-testid=if reply { "reply" } else { "comment" }>
            <p class="comment-head"><Avatar person=comment.author.clone() /><strong>{comment.author.name.clone()}</strong> " " <span class="muted">{comment.at.clone()}</span></p>
            <p class="comment-body"><Body body=comment.body.clone() mentions=comment.mentions.clone() /></p>
            <div class="post-actions">
                <ActionForm action=like>
                    <input type="hidden" name="target" value=like_id />
                    <input type="hidden" name="on" value=if comment.liked { "false" } else { "true" } />
                    <button type="submit" class="button small" aria-pressed=if comment.liked { "true" } else { "false" }>
                        {if comment.liked { "♥ Liked" } else { "♡ Like" }}{likes}
                    </button>
                </ActionForm>
                {comment.can_delete.then(|| view! {
                    <ActionForm action=remove>
                        <input type="hidden" name="comment" value=remove_id />
                        <button type="submit" class="button small danger">"Delete"</button>
                    </ActionForm>
                })}
            </div>
            {(!reply).then(|| {
                let post = post.clone();
                let (parent, post_id, field) = (reply_to.clone(), post.to_string(), format!("reply-{reply_to}"));
                view! {
                    {(!comment.replies.is_empty()).then(|| view! {
                        <ul class="replies">
                            {comment.replies.clone().into_iter().map(|r| view! {
                                <CommentItem comment=r post=post.clone() changed reply=true />
                            }.into_any()).collect_view()}
                        </ul>
                    })}
                    <details class="reply-form" node_ref=reply_form>
                        <summary>"Reply"</summary>
                        <ActionForm action=answer attr:class="stack">
                            <input type="hidden" name="post" value=post_id />
                            <input type="hidden" name="parent" value=parent />
                            <label class="visually-hidden" for=field.clone()>"Your reply"</label>
                            <textarea id=field name="body" rows="2" maxlength="2000" node_ref=reply_box></textarea>
                            <FormError error=answer_error fields=&[] />
                            <SubmitButton label="Reply" busy_label="Sending…" pending=answer.pending() class="button small primary" />
                        </ActionForm>
                    </details>
                }
            })}
        </li>
    }
}

/// Under a post on its own page: its author edits it; anyone else may
/// report it to the pantry's managers.
#[component]
fn PostTools(post: PostView, changed: RwSignal<u32>) -> impl IntoView {
    let edit = ServerAction::<EditPost>::new();
    let report = ServerAction::<ReportPost>::new();
    Effect::new(move |_| {
        if edit.version().get() > 0 {
            changed.try_update(|n| *n = n.wrapping_add(1));
        }
    });
    let edit_error = last_error(edit.value());
    let report_error = last_error(report.value());
    let reported = move || matches!(report.value().get(), Some(Ok(())));
    let id = post.id.to_string();
    if post.can_edit {
        let kind = post.kind;
        view! {
            <details class="card">
                <summary>"Edit your post"</summary>
                <ActionForm action=edit attr:class="stack" attr:aria-label="Edit the post">
                    <input type="hidden" name="post" value=id />
                    <div class="field">
                        <label for="edit-kind">"What is it"</label>
                        <select id="edit-kind" name="kind">
                            {PostKind::WRITTEN.iter().map(|k| view! {
                                <option value=k.as_str() selected=*k == kind>{k.label()}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="edit-body">"Post"</label>
                        <textarea id="edit-body" name="body" rows="4" maxlength="4000">{post.body.clone()}</textarea>
                    </div>
                    <div class="field">
                        <label for="edit-event-on">"Date of the event (for events)"</label>
                        <input id="edit-event-on" type="date" name="event_on" value=post.event_on.clone().unwrap_or_default() />
                    </div>
                    <FormError error=edit_error fields=&[] />
                    <SubmitButton label="Save the post" busy_label="Saving…" pending=edit.pending() />
                </ActionForm>
            </details>
        }
        .into_any()
    } else if post.author.is_some() {
        view! {
            <details class="card">
                <summary>"Report this post"</summary>
                <ActionForm action=report attr:class="stack" attr:aria-label="Report the post">
                    <input type="hidden" name="post" value=id />
                    <label for="report-reason">"What is wrong with it"</label>
                    <textarea id="report-reason" name="reason" rows="2" maxlength="500"></textarea>
                    <FormError error=report_error fields=&[] />
                    {move || reported().then(|| view! { <p class="notice" role="status">"Reported. The pantry's managers will look at it."</p> })}
                    <SubmitButton label="Report" busy_label="Sending…" pending=report.pending() />
                </ActionForm>
            </details>
        }
        .into_any()
    } else {
        ().into_any()
    }
}

#[component]
pub fn PostPage() -> impl IntoView {
    let params = use_params_map();
    let post = move || params.read().get("id").unwrap_or_default();
    let changed = RwSignal::new(0u32);
    let add = ServerAction::<AddComment>::new();
    let error = last_error(add.value());
    let data = Resource::new(
        move || (post(), changed.get(), add.version().get()),
        |(post, ..)| get_post_thread(PostId::from_stored(post)),
    );
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let t = match data.await {
                    Ok(t) => t,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let id = t.post.id.clone();
                view! {
                    <Title text=format!("{} · {}", t.post.kind.label(), t.post.pantry_name) />
                    <p><a href=format!("/pantries/{}/timeline", t.post.pantry)>{format!("← {}", t.post.pantry_name)}</a></p>
                    <PostCard post=t.post.clone() changed alone=true />
                    <PostTools post=t.post.clone() changed />
                    <section class="card" aria-label="Comments">
                        <h2>"Comments"</h2>
                        {t.comments.is_empty().then(|| view! { <p class="muted">"No comments yet."</p> })}
                        <ul class="comments">
                            {t.comments.into_iter().map(|c| view! { <CommentItem comment=c post=id.clone() changed /> }).collect_view()}
                        </ul>
                        {move || {
                            let _ = add.version().get();
                            let post_id = id.to_string();
                            view! {
                                <ActionForm action=add attr:class="stack" attr:aria-label="New comment">
                                    <input type="hidden" name="post" value=post_id />
                                    <label for="comment-body">"Add a comment"</label>
                                    <textarea id="comment-body" name="body" rows="3" maxlength="2000"></textarea>
                                    <FormError error=error fields=&[] />
                                    <SubmitButton label="Comment" busy_label="Sending…" pending=add.pending() />
                                </ActionForm>
                            }
                        }}
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}
