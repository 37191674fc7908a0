/** Inclusive HTTP status ranges such as "200-399,404". */
export type StatusRanges = ReadonlyArray<readonly [number, number]>;

export function parseStatusRanges(text: string): StatusRanges {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
      if (!match) throw new Error(`"${part}" is not a status or a range like 200-399`);
      const low = Number(match[1]);
      const high = Number(match[2] ?? match[1]);
      if (low > high) throw new Error(`"${part}" runs backwards`);
      return [low, high] as const;
    });
}

export function statusInRanges(status: number, ranges: StatusRanges): boolean {
  return ranges.some(([low, high]) => status >= low && status <= high);
}
