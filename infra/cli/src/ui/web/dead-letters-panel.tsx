import { useState } from "preact/hooks";
import type { DeadLetterRow, RedriveAnswer } from "../ops-api.js";
import { clock, failure } from "./format.js";

interface Props {
  readonly letters: readonly DeadLetterRow[];
  readonly total: number;
  /** The operator token; without it the Redrive buttons are disabled. */
  readonly token: string | undefined;
  /** After a redrive: poll at once. */
  readonly changed: () => void;
}

/** The dead-letter stream: why each letter is there, and a Redrive button (operator only). */
export function DeadLettersPanel({ letters, total, token, changed }: Props) {
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | undefined>();
  const [busy, setBusy] = useState<number | undefined>();

  const redrive = async (id: number) => {
    setBusy(id);
    try {
      const res = await fetch(`/api/dead-letters/${id}/redrive`, {
        method: "POST",
        headers: { authorization: `Bearer ${token ?? ""}` },
      });
      if (!res.ok) return setNotice({ ok: false, text: `letter ${id} not redriven: ${await failure(res)}` });
      const r = (await res.json()) as RedriveAnswer;
      setNotice({ ok: true, text: `letter ${r.id} redriven to ${r.subject} (${r.stream} #${r.seq})` });
      changed();
    } catch (err) {
      setNotice({ ok: false, text: `letter ${id} not redriven: ${String(err)}` });
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section class="card dead-letters">
      <h2>
        Dead letters{" "}
        <span class="muted">
          {total} in the stream{total > letters.length ? `, the first ${letters.length} shown` : ""}
          {token ? "" : " · enter the operator token to redrive"}
        </span>
      </h2>
      {notice && (
        <p class={`notice ${notice.ok ? "ok" : "bad"}`} role="status">
          {notice.text}
        </p>
      )}
      {letters.length === 0 ? (
        <p class="empty">no dead letters</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th class="num">id</th>
              <th>time</th>
              <th>consumer</th>
              <th>subject</th>
              <th>code</th>
              <th>reason</th>
              <th class="num">deliveries</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {letters.map((l) => (
              <tr key={l.id} data-letter-id={l.id} data-event-id={l.eventId ?? ""}>
                <td class="num mono">{l.id}</td>
                <td class="muted">{clock(l.time)}</td>
                <td class="mono">{l.consumer}</td>
                <td class="mono">{l.subject}</td>
                <td>
                  <span class="badge cancelled">{l.code}</span>
                </td>
                <td class="reason">{l.reason}</td>
                <td class="num">{l.deliveries}</td>
                <td>
                  <button
                    type="button"
                    disabled={!token || busy !== undefined}
                    title={
                      token ? "publish it again on its subject, with its event id" : "operator token needed"
                    }
                    onClick={() => void redrive(l.id)}
                  >
                    {busy === l.id ? "Redriving…" : "Redrive"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
