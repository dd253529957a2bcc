import { streamNameOf, type AnyCatalog } from "@orderflow/events";

/**
 * The streams (ORDERS…, no namespace) holding the events `handlers` handle, as `catalog` places them.
 * @example
 * handledStreams({ "order.created": onCreated }, catalog); // ["ORDERS"]
 */
export function handledStreams(handlers: object, catalog: AnyCatalog): string[] {
  return [
    ...new Set(
      Object.keys(handlers).flatMap((n) => {
        const def = catalog.get(n);
        return def ? [streamNameOf(def.context)] : [];
      }),
    ),
  ];
}
