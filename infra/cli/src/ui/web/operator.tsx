import { useState } from "preact/hooks";
import { failure } from "./format.js";

const KEY = "orderflow-operator-token";

export interface Operator {
  /** The operator token once the server accepted it; kept for this tab only (sessionStorage). */
  readonly token: string | undefined;
  /** Checks `token` with the server (`GET /api/operator`); resolves with why it was refused, if it was. */
  unlock(token: string): Promise<string | undefined>;
  lock(): void;
}

export function useOperator(): Operator {
  const [token, setToken] = useState<string | undefined>(() => sessionStorage.getItem(KEY) ?? undefined);
  return {
    token,
    async unlock(candidate) {
      const res = await fetch("/api/operator", { headers: { authorization: `Bearer ${candidate}` } });
      if (res.status !== 204) return failure(res);
      sessionStorage.setItem(KEY, candidate);
      setToken(candidate);
      return undefined;
    },
    lock() {
      sessionStorage.removeItem(KEY);
      setToken(undefined);
    },
  };
}

/** The header's token form: what lets this tab redrive dead letters. */
export function OperatorForm({ operator }: { operator: Operator }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | undefined>();
  if (operator.token)
    return (
      <div class="operator">
        <span class="badge ok">operator</span>
        <button type="button" class="link" onClick={() => operator.lock()}>
          forget token
        </button>
      </div>
    );
  const submit = async () => {
    const refused = await operator.unlock(value.trim()).catch((err: unknown) => String(err));
    setError(refused);
    if (!refused) setValue("");
  };
  return (
    <form
      class="operator"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <input
        type="password"
        name="operator-token"
        aria-label="operator token"
        placeholder="operator token (to redrive)"
        title="jq -r .http.operatorToken .data/credentials.json"
        autocomplete="off"
        value={value}
        onInput={(e) => setValue(e.currentTarget.value)}
      />
      <button type="submit" disabled={!value.trim()}>
        Unlock
      </button>
      {error && <span class="error-text">{error}</span>}
    </form>
  );
}
