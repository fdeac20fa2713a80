/** A duration for people: "45 s", "7 min", "2.5 h", "3 days" (the sync's lag, on the server and in the dashboard). */
export function formatDuration(seconds: number): string {
  if (seconds < 90) {
    return `${Math.round(seconds)} s`;
  }
  if (seconds < 5400) {
    return `${Math.round(seconds / 60)} min`;
  }
  if (seconds < 172_800) {
    return `${(seconds / 3600).toFixed(1)} h`;
  }
  return `${Math.round(seconds / 86_400)} days`;
}
