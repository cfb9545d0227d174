//! The managers' review of reported posts, on the pantry's timeline page:
//! each reported post with its reasons, to keep (dismiss the reports) or
//! delete.

use leptos::prelude::*;

use super::api::*;
use crate::ids::PantryId;
use crate::ui::*;

/// Reported posts waiting for review; nothing shows when there are none.
#[component]
pub fn ReportedPosts(
    pantry: PantryId,
    /// Bumped after a review, so the timeline is read again.
    changed: RwSignal<u32>,
) -> impl IntoView {
    let dismiss = ServerAction::<DismissReports>::new();
    let remove = ServerAction::<DeletePost>::new();
    let error = last_error(dismiss.value());
    Effect::new(move |_| {
        if remove.version().get() > 0 {
            changed.try_update(|n| *n = n.wrapping_add(1));
        }
    });
    let data = Resource::new(
        move || {
            (
                dismiss.version().get(),
                remove.version().get(),
                changed.get(),
            )
        },
        move |_| get_pantry_reports(pantry.clone()),
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let reported = data.await.unwrap_or_default();
                (!reported.is_empty()).then(|| view! {
                    <section class="card reported" aria-label="Reported posts" data-testid="reported">
                        <h2>"Reported posts"</h2>
                        <p class="hint">"People reported these posts on this timeline. Keep a post to close its reports, or delete it."</p>
                        <FormError error fields=&[] />
                        <ul class="list">
                            {reported.into_iter().map(|r| {
                                let (keep_id, delete_id) = (r.post.to_string(), r.post.to_string());
                                let count = if r.reports == 1 { "1 report".to_string() } else { format!("{} reports", r.reports) };
                                view! {
                                    <li class="stack">
                                        <p><a href=format!("/posts/{}", r.post)>{r.author.clone()} ": " {r.excerpt.clone()}</a></p>
                                        <p class="muted">{count} " · last " {r.last_at.clone()}</p>
                                        <ul class="reasons">
                                            {r.reasons.iter().map(|reason| view! { <li>{reason.clone()}</li> }).collect_view()}
                                        </ul>
                                        <div class="actions">
                                            <ActionForm action=dismiss>
                                                <input type="hidden" name="post" value=keep_id />
                                                <button type="submit" class="button small">"Keep it"</button>
                                            </ActionForm>
                                            <ActionForm action=remove>
                                                <input type="hidden" name="post" value=delete_id />
                                                <button type="submit" class="button small danger">"Delete it"</button>
                                            </ActionForm>
                                        </div>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Transition>
    }
}
