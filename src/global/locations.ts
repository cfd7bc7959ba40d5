/**
 * Where things are, for steering: the city of each cloud region this project knows, and a representative city for
 * each of Cloudflare's 13 load-balancing regions. Coordinates are city centres rounded to 0.1 degree; steering
 * needs the continent-scale picture, not the data centre's street. Every region that validation accepts
 * (src/config/cloudLocations.ts) is here except AWS's isolated regions, whose sites are not public; a region missing
 * here takes `coturn:regions[].latitude/longitude` from config.
 */
import type { GeoLocation } from "../config/stackConfig";

const at = (latitude: number, longitude: number): GeoLocation => ({ latitude, longitude });

/** Cloud regions by `<cloud>/<region>`, located at the city the provider names for them. */
export const CLOUD_REGION_LOCATIONS: Readonly<Record<string, GeoLocation>> = {
  // AWS
  "aws/us-east-1": at(39.0, -77.5), // N. Virginia
  "aws/us-east-2": at(40.0, -83.0), // Ohio
  "aws/us-west-1": at(37.4, -121.9), // N. California
  "aws/us-west-2": at(45.8, -119.7), // Oregon
  "aws/ca-central-1": at(45.5, -73.6), // Montreal
  "aws/ca-west-1": at(51.0, -114.1), // Calgary
  "aws/mx-central-1": at(20.6, -100.4), // Querétaro
  "aws/sa-east-1": at(-23.5, -46.6), // São Paulo
  "aws/eu-west-1": at(53.3, -6.3), // Dublin
  "aws/eu-west-2": at(51.5, -0.1), // London
  "aws/eu-west-3": at(48.9, 2.4), // Paris
  "aws/eu-central-1": at(50.1, 8.7), // Frankfurt
  "aws/eu-central-2": at(47.4, 8.5), // Zurich
  "aws/eu-south-1": at(45.5, 9.2), // Milan
  "aws/eu-south-2": at(41.6, -0.9), // Spain (Aragón)
  "aws/eu-north-1": at(59.3, 18.1), // Stockholm
  "aws/il-central-1": at(32.1, 34.8), // Tel Aviv
  "aws/me-south-1": at(26.1, 50.6), // Bahrain
  "aws/me-central-1": at(24.5, 54.4), // UAE
  "aws/af-south-1": at(-33.9, 18.4), // Cape Town
  "aws/ap-south-1": at(19.1, 72.9), // Mumbai
  "aws/ap-south-2": at(17.4, 78.5), // Hyderabad
  "aws/ap-southeast-1": at(1.3, 103.8), // Singapore
  "aws/ap-southeast-2": at(-33.9, 151.2), // Sydney
  "aws/ap-southeast-3": at(-6.2, 106.8), // Jakarta
  "aws/ap-southeast-4": at(-37.8, 145.0), // Melbourne
  "aws/ap-southeast-5": at(3.1, 101.7), // Malaysia
  "aws/ap-southeast-7": at(13.8, 100.5), // Thailand
  "aws/ap-northeast-1": at(35.7, 139.7), // Tokyo
  "aws/ap-northeast-2": at(37.6, 127.0), // Seoul
  "aws/ap-northeast-3": at(34.7, 135.5), // Osaka
  "aws/ap-east-1": at(22.3, 114.2), // Hong Kong
  "aws/ap-east-2": at(25.0, 121.5), // Taipei
  "aws/ap-southeast-6": at(-36.8, 174.8), // Auckland
  "aws/cn-north-1": at(39.9, 116.4), // Beijing
  "aws/cn-northwest-1": at(37.5, 105.2), // Ningxia (Zhongwei)
  "aws/eusc-de-east-1": at(52.4, 13.1), // Brandenburg (European Sovereign Cloud)
  "aws/us-gov-east-1": at(40.0, -83.0), // Ohio (GovCloud US-East)
  "aws/us-gov-west-1": at(45.8, -119.7), // Oregon (GovCloud US-West)
  // Google Cloud
  "gcp/us-central1": at(41.3, -95.9), // Iowa
  "gcp/us-east1": at(33.2, -80.0), // South Carolina
  "gcp/us-east4": at(39.0, -77.5), // N. Virginia
  "gcp/us-east5": at(40.0, -83.0), // Columbus
  "gcp/us-south1": at(32.8, -96.8), // Dallas
  "gcp/us-west1": at(45.6, -121.2), // Oregon
  "gcp/us-west2": at(34.1, -118.2), // Los Angeles
  "gcp/us-west3": at(40.8, -111.9), // Salt Lake City
  "gcp/us-west4": at(36.2, -115.1), // Las Vegas
  "gcp/northamerica-northeast1": at(45.5, -73.6), // Montréal
  "gcp/northamerica-northeast2": at(43.7, -79.4), // Toronto
  "gcp/northamerica-south1": at(20.6, -100.4), // Querétaro
  "gcp/southamerica-east1": at(-23.5, -46.6), // São Paulo
  "gcp/southamerica-west1": at(-33.4, -70.6), // Santiago
  "gcp/europe-west1": at(50.4, 3.8), // Belgium
  "gcp/europe-west2": at(51.5, -0.1), // London
  "gcp/europe-west3": at(50.1, 8.7), // Frankfurt
  "gcp/europe-west4": at(53.4, 6.8), // Netherlands
  "gcp/europe-west6": at(47.4, 8.5), // Zurich
  "gcp/europe-west8": at(45.5, 9.2), // Milan
  "gcp/europe-west9": at(48.9, 2.4), // Paris
  "gcp/europe-west10": at(52.5, 13.4), // Berlin
  "gcp/europe-west12": at(45.1, 7.7), // Turin
  "gcp/europe-southwest1": at(40.4, -3.7), // Madrid
  "gcp/europe-north1": at(60.6, 27.2), // Finland
  "gcp/europe-north2": at(59.3, 18.1), // Stockholm
  "gcp/europe-central2": at(52.2, 21.0), // Warsaw
  "gcp/me-central1": at(25.3, 51.5), // Doha
  "gcp/me-central2": at(26.4, 50.1), // Dammam
  "gcp/me-west1": at(32.1, 34.8), // Tel Aviv
  "gcp/africa-south1": at(-26.2, 28.0), // Johannesburg
  "gcp/asia-south1": at(19.1, 72.9), // Mumbai
  "gcp/asia-south2": at(28.6, 77.2), // Delhi
  "gcp/asia-southeast1": at(1.3, 103.8), // Singapore
  "gcp/asia-southeast2": at(-6.2, 106.8), // Jakarta
  "gcp/asia-east1": at(24.1, 120.7), // Taiwan
  "gcp/asia-east2": at(22.3, 114.2), // Hong Kong
  "gcp/asia-northeast1": at(35.7, 139.7), // Tokyo
  "gcp/asia-northeast2": at(34.7, 135.5), // Osaka
  "gcp/asia-northeast3": at(37.6, 127.0), // Seoul
  "gcp/australia-southeast1": at(-33.9, 151.2), // Sydney
  "gcp/australia-southeast2": at(-37.8, 145.0), // Melbourne
  // DigitalOcean
  "digitalocean/nyc1": at(40.7, -74.0),
  "digitalocean/nyc2": at(40.7, -74.0),
  "digitalocean/nyc3": at(40.7, -74.0),
  "digitalocean/sfo1": at(37.8, -122.4),
  "digitalocean/sfo2": at(37.8, -122.4),
  "digitalocean/sfo3": at(37.8, -122.4),
  "digitalocean/atl1": at(33.7, -84.4),
  "digitalocean/tor1": at(43.7, -79.4),
  "digitalocean/lon1": at(51.5, -0.1),
  "digitalocean/ams2": at(52.4, 4.9),
  "digitalocean/ams3": at(52.4, 4.9),
  "digitalocean/fra1": at(50.1, 8.7),
  "digitalocean/sgp1": at(1.3, 103.8),
  "digitalocean/blr1": at(13.0, 77.6),
  "digitalocean/syd1": at(-33.9, 151.2),
};

/** Cloudflare's load-balancing region codes. */
export const CLOUDFLARE_REGIONS = ["WNAM", "ENAM", "NSAM", "SSAM", "WEU", "EEU", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS", "OC"] as const;
/** A Cloudflare load-balancing region. */
export type CloudflareRegion = (typeof CLOUDFLARE_REGIONS)[number];

/** A representative city of each Cloudflare region: distances to pools are measured from it. */
export const CLOUDFLARE_REGION_LOCATIONS: Readonly<Record<CloudflareRegion, GeoLocation>> = {
  WNAM: at(37.8, -122.4), // San Francisco
  ENAM: at(40.7, -74.0), // New York
  NSAM: at(4.7, -74.1), // Bogotá
  SSAM: at(-23.5, -46.6), // São Paulo
  WEU: at(48.9, 2.4), // Paris
  EEU: at(52.2, 21.0), // Warsaw
  ME: at(25.2, 55.3), // Dubai
  NAF: at(30.0, 31.2), // Cairo
  SAF: at(-26.2, 28.0), // Johannesburg
  SAS: at(19.1, 72.9), // Mumbai
  SEAS: at(1.3, 103.8), // Singapore
  NEAS: at(35.7, 139.7), // Tokyo
  OC: at(-33.9, 151.2), // Sydney
};

/** The known location of a cloud region, or undefined. */
export function cloudRegionLocation(cloud: string, region: string): GeoLocation | undefined {
  return CLOUD_REGION_LOCATIONS[`${cloud}/${region}`];
}

/** Great-circle distance in kilometres (haversine, mean Earth radius). */
export function distanceKm(a: GeoLocation, b: GeoLocation): number {
  const rad = (deg: number): number => (deg * Math.PI) / 180;
  const dLat = rad(b.latitude - a.latitude);
  const dLon = rad(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}
